using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Run;

public sealed partial class EventSender
{
    [LoggerMessage(EventId = 2040, Level = LogLevel.Warning, Message = "Could not send the {What} to the events queue (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    partial void LogSendFailed(string what, int attempt, TimeSpan delay, string reason);
}
