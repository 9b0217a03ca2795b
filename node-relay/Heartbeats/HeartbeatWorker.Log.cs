using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Heartbeats;

public sealed partial class HeartbeatWorker
{
    [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Heartbeat sent: {Containers} container(s) in {Parts} part(s), {ElapsedMs} ms")]
    partial void LogSent(int containers, int parts, long elapsedMs);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Heartbeat skipped: {Reason}")]
    partial void LogSkipped(string reason);
}
