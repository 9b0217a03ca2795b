using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;

namespace Automator67.Functions.Features.Nodes;

public sealed record JoinTokenRequest(string? Name, Dictionary<string, string>? Labels, int? ExpiresInMinutes);

/// <summary>The join token is shown once; <c>Command</c> is what to run on the Docker host.</summary>
public sealed record JoinTokenResponse(string Token, DateTimeOffset ExpiresAt, string? Name, IReadOnlyDictionary<string, string> Labels, string Command);

/// <summary>
/// A node's changes: name, labels, and <c>lostAfterSeconds</c>, how long it may stay silent before it is Lost and its
/// replicas are rescheduled (10-86400; 0: back to <c>Nodes__LostAfter</c>).
/// </summary>
public sealed record NodePatchRequest(string? Name, Dictionary<string, string>? Labels, int? LostAfterSeconds = null);

public static class NodeStatuses
{
    /// <summary>Enrolled, no heartbeat yet.</summary>
    public const string Pending = "Pending";
    public const string Ready = "Ready";
    /// <summary>Heartbeats are late by more than three intervals.</summary>
    public const string Unreachable = "Unreachable";
    /// <summary>Heartbeats arrive, but pings sent through the command queue have gone unanswered for two ping intervals.</summary>
    public const string Degraded = "Degraded";
    /// <summary>Takes no new replicas.</summary>
    public const string Draining = "Draining";
    /// <summary>Unreachable beyond its grace: the health sweep rescheduled its replicas elsewhere.</summary>
    public const string Lost = "Lost";

    public static readonly IReadOnlyList<string> All = [Pending, Ready, Degraded, Unreachable, Lost, Draining];
}

public sealed record NodeView(
    Guid Id,
    string Name,
    string Status,
    IReadOnlyDictionary<string, string> Labels,
    bool Draining,
    HostFacts Facts,
    NodeCapacity Capacity,
    DateTimeOffset EnrolledAt,
    DateTimeOffset? LastHeartbeatAt,
    DateTimeOffset CredentialExpiresAt,
    NodeCommandPathView CommandPath,
    IReadOnlyList<ContainerReport>? Containers,
    NodeSilenceView? Silence = null);

/// <summary>What the health sweep recorded: when it found the node unreachable and declared it lost, and the node's grace before Lost.</summary>
public sealed record NodeSilenceView(DateTimeOffset? UnreachableAt, DateTimeOffset? LostAt, int LostAfterSeconds, bool LostAfterIsDefault);

/// <summary>
/// The command path as the periodic ping sees it: when the relay last answered, and how long that ping took from
/// being sent to its result being applied (including the relay's idle polling).
/// </summary>
public sealed record NodeCommandPathView(DateTimeOffset? LastPingSentAt, DateTimeOffset? LastPingOkAt, int? LatencyMs);

public sealed record NodeCapacity(int Cpus, long MemoryBytes);
