namespace Automator67.Functions.Features.GitHub;

public sealed partial class GitHubClient
{
    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "GitHub sign-in: {Call} failed: {Reason}")]
    partial void LogUnavailable(string call, string reason);
}
