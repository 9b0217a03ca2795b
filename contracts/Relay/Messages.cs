using System.Text.Json;

namespace Automator67.Contracts.Relay;

/// <summary>Message types (the JWS <c>typ</c>): a command can never be replayed as an event, nor the reverse.</summary>
public static class MessageTypes
{
    public const string Command = "a67-command+jws";
    public const string Event = "a67-event+jws";

    /// <summary>A relay's request for fresh queue credentials (<c>POST /api/relay/credentials</c>), signed with its node key.</summary>
    public const string Renew = "a67-renew+jws";
}

/// <summary>What a relay may be asked to do.</summary>
public static class CommandKinds
{
    public const string Ping = "ping";
    public const string PullImage = "pull-image";
    public const string RunReplica = "run-replica";
    public const string Stop = "stop";
    public const string Restart = "restart";
    public const string Remove = "remove";
    public const string Inspect = "inspect";
    public const string Logs = "logs";
    public const string Probe = "probe";
    /// <summary>One container by id, only if it is this node's and (when given) of that generation: fencing and orphans.</summary>
    public const string RemoveContainer = "remove-container";

    public static readonly IReadOnlyList<string> All = [Ping, PullImage, RunReplica, Stop, Restart, Remove, Inspect, Logs, Probe, RemoveContainer];
}

/// <summary>What a relay reports.</summary>
public static class EventKinds
{
    /// <summary>The outcome of one command (done, failed or refused).</summary>
    public const string Result = "result";
    public const string Heartbeat = "heartbeat";
}

/// <summary>
/// The signed payload of a command (kid = a control-plane command key). The relay executes it only if the signature,
/// <see cref="NodeId"/> and <see cref="ExpiresAt"/> check out and <see cref="CommandId"/> is not in its journal.
/// </summary>
public sealed record CommandEnvelope(
    Guid NodeId,
    Guid CommandId,
    Guid? OperationId,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt,
    string Kind,
    JsonElement Body);

/// <summary>The signed payload of an event (kid = the node id; verified against that node's enrolled public key).</summary>
public sealed record EventEnvelope(
    Guid NodeId,
    Guid EventId,
    DateTimeOffset SentAt,
    string Kind,
    JsonElement Body);

/// <summary>A command's outcome. <see cref="Status"/>: <c>succeeded</c>, <c>failed</c> (tried, Docker said no), <c>refused</c> (never run: bad signature, expired, other node, replayed, not allowed).</summary>
public sealed record CommandResult(
    Guid CommandId,
    Guid? OperationId,
    string Kind,
    string Status,
    string? Error,
    JsonElement? Output,
    long DurationMs);

public static class ResultStatuses
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Refused = "refused";
}
