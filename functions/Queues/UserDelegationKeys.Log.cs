namespace Automator67.Functions.Queues;

public sealed partial class UserDelegationKeys
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Fetched a user delegation key (expires {ExpiresOn:O}, identity {ObjectId}) to sign relay queue credentials")]
    partial void LogKeyFetched(DateTimeOffset expiresOn, string objectId);
}
