using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Commands;

public sealed partial class CommandJournal
{
    [LoggerMessage(EventId = 2030, Level = LogLevel.Warning, Message = "The command journal {Path} had {Lines} unreadable line(s), left over from a crash; they are dropped")]
    partial void LogDamagedLines(string path, int lines);
}
