using Automator67.Contracts.Nodes;

namespace Automator67.Contracts.Relay;

/// <summary>
/// Sent every heartbeat interval: the host's facts, and the inventory and stats of its labelled containers. A
/// heartbeat that would not fit one queue message is split into parts (<see cref="Part"/> of <see cref="Parts"/>),
/// never cut silently.
/// </summary>
public sealed record HeartbeatBody(HostFacts Facts, IReadOnlyList<ContainerReport> Containers, int Part = 1, int Parts = 1)
{
    /// <summary>
    /// Names one heartbeat across its parts (every part carries the same id). When absent, the parts of one heartbeat
    /// are recognised by their envelopes' equal <see cref="EventEnvelope.SentAt"/>.
    /// </summary>
    public Guid? HeartbeatId { get; init; }
}

public sealed record ContainerReport(
    string Id,
    string Name,
    string App,
    string Release,
    int Replica,
    long? Generation,
    string State,
    int? ExitCode,
    int RestartCount,
    DateTimeOffset? StartedAt,
    string? Health,
    ContainerStats? Stats,
    IReadOnlyList<PortBinding>? Ports = null);

public sealed record ContainerStats(double CpuPercent, long MemoryUsedBytes, long MemoryLimitBytes, long NetworkRxBytes, long NetworkTxBytes);
