using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Commands;

public sealed partial class CommandExecutor
{
    [LoggerMessage(EventId = 2020, Level = LogLevel.Warning, Message = "Command {CommandId}: the Docker Engine did not answer (attempt {Attempt}), trying again in {Delay}: {Reason}")]
    partial void LogDockerUnreachable(Guid commandId, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Error, Message = "Command {CommandId} ({Kind}) failed unexpectedly")]
    partial void LogUnexpected(Exception exception, Guid commandId, string kind);
}
