using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Commands;

public sealed partial class CommandLease
{
    [LoggerMessage(EventId = 2015, Level = LogLevel.Warning, Message = "Could not extend the visibility of command message {MessageId}: {Reason}")]
    partial void LogExtendFailed(string messageId, string reason);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Warning, Message = "Could not delete command message {MessageId} after its result was sent (it will be redelivered and its result sent again): {Reason}")]
    partial void LogDeleteFailed(string messageId, string reason);
}
