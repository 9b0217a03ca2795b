using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Run;

public sealed partial class CredentialRenewer
{
    [LoggerMessage(EventId = 2060, Level = LogLevel.Information, Message = "Renewed the queue credentials ({Reason}): valid until {ExpiresAt:O}, {KeyCount} command key(s)")]
    partial void LogRenewed(string reason, DateTimeOffset expiresAt, int keyCount);

    [LoggerMessage(EventId = 2061, Level = LogLevel.Warning, Message = "Could not renew the queue credentials ({Reason}), trying again later: {Problem}")]
    partial void LogFailed(string reason, string problem);

    [LoggerMessage(EventId = 2062, Level = LogLevel.Error, Message = "The control plane refused to renew this node's credentials ({Reason}): {Detail}. If the node was deleted, enrol it again.")]
    partial void LogRefused(string reason, string detail);

    [LoggerMessage(EventId = 2063, Level = LogLevel.Error, Message = "Renewed credentials could not be saved to {Path} ({Problem}); they are used until the relay stops")]
    partial void LogSaveFailed(string path, string problem);
}
