namespace Automator67.Contracts.Relay;

/// <summary><c>ping</c>: the Docker Engine answered; <see cref="RelayTime"/> lets the control plane see clock skew.</summary>
public sealed record PingOutput(string DockerVersion, string DockerApiVersion, DateTimeOffset RelayTime);

/// <summary><c>pull-image</c>: the image is on the node.</summary>
public sealed record PullImageOutput(string Image, string? ImageId);

/// <summary>
/// <c>run-replica</c>: the replica's container, <see cref="Created"/> now or found from an earlier delivery, and the
/// host ports it was given (an automatic host port is known only once the container runs).
/// </summary>
public sealed record RunReplicaOutput(string ContainerId, string Name, bool Created, IReadOnlyList<PortBinding>? Ports = null);

/// <summary><c>stop</c>, <c>restart</c>, <c>remove</c>: the containers acted on (none: there was nothing to do).</summary>
public sealed record ContainersOutput(IReadOnlyList<string> ContainerIds);

/// <summary><c>inspect</c>: the replica's containers on this node (every generation; none if it has none).</summary>
public sealed record InspectOutput(IReadOnlyList<ContainerReport> Containers);

/// <summary><c>logs</c>: the last lines, cut from the front to the byte bound (<see cref="Truncated"/>).</summary>
public sealed record LogsOutput(string ContainerId, string Text, bool Truncated);

/// <summary><c>probe</c>: what was tried and what came back (the result is <c>failed</c> when not <see cref="Healthy"/>).</summary>
public sealed record ProbeOutput(string Kind, string Target, bool Healthy, int? StatusCode, long? ExitCode, string? Detail, long ElapsedMs);

/// <summary>A refused message whose signature did not verify: the command id it claimed, not trusted, for correlation only.</summary>
public sealed record UnverifiedCommandOutput(string? ClaimedCommandId, string? Kid);
