namespace Automator67.Functions.Features.Relay;

public sealed partial class RelayEventsConsumer
{
    [LoggerMessage(EventId = 1600, Level = LogLevel.Information, Message = "Consuming relay events from {Queue}, {Concurrency} at once")]
    partial void LogStarted(string queue, int concurrency);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Stopped consuming relay events from {Queue}")]
    partial void LogStopped(string queue);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Relay event {MessageId} refused (claimed node {NodeId}): {Reason}")]
    partial void LogRefused(string? nodeId, string reason, string messageId);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Error, Message = "Relay event {MessageId} (claimed node {NodeId}) moved to the poison queue after {DequeueCount} deliveries: {Reason}")]
    partial void LogPoisoned(string messageId, string? nodeId, long dequeueCount, string reason);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Error, Message = "Relay event {MessageId} failed on delivery {DequeueCount}")]
    partial void LogFailed(Exception exception, string messageId, long dequeueCount);

    [LoggerMessage(EventId = 1605, Level = LogLevel.Warning, Message = "Relay events queue {Queue} unavailable, retrying in {Delay}: {Reason}")]
    partial void LogQueueUnavailable(string queue, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 1606, Level = LogLevel.Warning, Message = "Relay event {MessageId} left for later: the database is unavailable ({Reason})")]
    partial void LogDatabaseUnavailable(string messageId, string reason);

    [LoggerMessage(EventId = 1607, Level = LogLevel.Debug, Message = "Relay event {MessageId} was applied before; dropped")]
    partial void LogDuplicate(string messageId);

    [LoggerMessage(EventId = 1608, Level = LogLevel.Information, Message = "Relay event {MessageId} applied, but its delete came too late (another delivery holds it)")]
    partial void LogDeleteLost(string messageId);

    [LoggerMessage(EventId = 1609, Level = LogLevel.Warning, Message = "Relay event {MessageId} could not be handed back early ({Reason}); it returns after its visibility timeout")]
    partial void LogGiveBackFailed(string messageId, string reason);

    [LoggerMessage(EventId = 1610, Level = LogLevel.Warning, Message = "The result of command {CommandId} is applied, but what waits for it could not act on it now (it catches up on its own)")]
    partial void LogListenerFailed(Exception exception, Guid commandId);
}
