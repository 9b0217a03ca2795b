using Automator67.Contracts.Nodes;

namespace Automator67.Functions.Features.Nodes;

public sealed record JoinTokenRequest(string? Name, Dictionary<string, string>? Labels, int? ExpiresInMinutes);

/// <summary>The join token is shown once; <c>Command</c> is what to run on the Docker host.</summary>
public sealed record JoinTokenResponse(string Token, DateTimeOffset ExpiresAt, string? Name, IReadOnlyDictionary<string, string> Labels, string Command);

public sealed record NodePatchRequest(string? Name, Dictionary<string, string>? Labels);

public static class NodeStatuses
{
    /// <summary>Enrolled, no heartbeat yet.</summary>
    public const string Pending = "Pending";
    public const string Ready = "Ready";
    /// <summary>Heartbeats are late by more than three intervals.</summary>
    public const string Unreachable = "Unreachable";
    /// <summary>Takes no new replicas.</summary>
    public const string Draining = "Draining";
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
    DateTimeOffset CredentialExpiresAt);

public sealed record NodeCapacity(int Cpus, long MemoryBytes);
