namespace Automator67.Functions.Features.Relay;

public sealed partial class CommandSender
{
    [LoggerMessage(EventId = 1620, Level = LogLevel.Debug, Message = "Command {CommandId} ({Kind}) sent to node {NodeId}")]
    partial void LogSent(Guid commandId, string kind, Guid nodeId);

    [LoggerMessage(EventId = 1621, Level = LogLevel.Warning, Message = "Command {CommandId} not sent: the queue of node {NodeId} is gone (node deleted); it will expire")]
    partial void LogQueueGone(Guid commandId, Guid nodeId);

    [LoggerMessage(EventId = 1625, Level = LogLevel.Warning, Message = "Command {CommandId} ({Kind}) for node {NodeId} was not sent: {Reason}")]
    partial void LogUnsent(Guid commandId, string kind, Guid nodeId, string reason);
}
