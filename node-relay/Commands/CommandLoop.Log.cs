using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Commands;

public sealed partial class CommandLoop
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Command loop started on queue {Queue} (idle polls at most every {MaxPollInterval})")]
    partial void LogStarted(string queue, TimeSpan maxPollInterval);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Could not receive commands (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    partial void LogReceiveFailed(int attempt, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Command {CommandId} ({Kind}): {Status} in {DurationMs} ms {Error}")]
    partial void LogAnswered(Guid commandId, string kind, string status, long durationMs, string error);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Command {CommandId} in message {MessageId} refused: {Reason}")]
    partial void LogRefused(Guid commandId, string messageId, string? reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Command {CommandId} redelivered in message {MessageId}: it was executed already, its result is sent again")]
    partial void LogRedelivered(Guid commandId, string messageId);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Command message {MessageId} abandoned at shutdown; it will be redelivered")]
    partial void LogAbandoned(string messageId);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "Command loop stopping: waiting for {Running} running command(s), at most {Grace}")]
    partial void LogStopping(int running, TimeSpan grace);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Error, Message = "Unexpected failure on command message {MessageId}; it will be redelivered")]
    partial void LogUnexpected(Exception exception, string messageId);
}
