namespace Automator67.Contracts.Nodes;

/// <summary>What a relay reports about its Docker host at enrolment: enough to place replicas and to debug.</summary>
public sealed record HostFacts(
    string Hostname,
    string OperatingSystem,
    string Architecture,
    int Cpus,
    long MemoryBytes,
    string DockerVersion,
    string DockerApiVersion);
