namespace Automator67.Contracts.Relay;

/// <summary>
/// Labels every container Automator67 makes carries. The relay never touches a container without <see cref="App"/>,
/// and finds what a command made before (re-running "run replica" finds its container instead of making another).
/// </summary>
public static class ContainerLabels
{
    public const string App = "automator67.app";
    public const string Release = "automator67.release";
    public const string Replica = "automator67.replica";
    public const string Node = "automator67.node";
    public const string Command = "automator67.command";
    /// <summary>Placement generation: a container of a superseded generation is fenced (removed) by its relay.</summary>
    public const string Generation = "automator67.generation";
}

/// <summary>Which replica's container a command is about: app, release and replica number (the labels above).</summary>
public sealed record ReplicaSelector(string App, string Release, int Replica);

public sealed record RegistryCredentials(string Username, string Password);

/// <summary>
/// Pull an image. Credentials come either in <see cref="Credentials"/> (clear; only for callers that seal the whole
/// channel themselves, e.g. tests) or, from the control plane, as <see cref="SealedCredentials"/>: a
/// <see cref="SealedBox"/> (purpose <see cref="SealedBox.Purposes.RegistryCredentials"/>) holding the JSON of a
/// <see cref="RegistryCredentials"/>, opened by the relay in memory only.
/// </summary>
public sealed record PullImageBody(string Image, RegistryCredentials? Credentials, string? SealedCredentials = null);

public sealed record PortBinding(int ContainerPort, int? HostPort, string Protocol = "tcp");

/// <summary>Limits; null means none beyond the engine's defaults (pids defaults to a bound in the relay).</summary>
public sealed record ResourceLimits(long? NanoCpus, long? MemoryBytes, long? Pids);

public sealed record RestartPolicySpec(string Name, int MaximumRetryCount = 0);

/// <summary>
/// Create and start one replica, hardened by default: no-new-privileges, all capabilities dropped but
/// <see cref="CapAdd"/>, never privileged, no host PID/IPC, no Docker socket, host paths only from the relay's
/// allowlist. Anything else is refused with a clear result. <see cref="Entrypoint"/> replaces the image's, and
/// <see cref="Command"/> its arguments (Docker's Cmd). <see cref="SealedEnv"/> carries the app's secrets: a
/// <see cref="SealedBox"/> (purpose <see cref="SealedBox.Purposes.Env"/>) holding a JSON object of variable names
/// and values, opened by the relay in memory and added to <see cref="Env"/> for the container only.
/// </summary>
public sealed record RunReplicaBody(
    ReplicaSelector Replica,
    long Generation,
    string Image,
    IReadOnlyList<string>? Command,
    IReadOnlyDictionary<string, string>? Env,
    IReadOnlyList<PortBinding>? Ports,
    ResourceLimits? Resources,
    RestartPolicySpec? RestartPolicy,
    IReadOnlyList<string>? CapAdd,
    IReadOnlyList<string>? HostPaths,
    string NetworkMode = "bridge",
    IReadOnlyList<string>? Entrypoint = null,
    string? SealedEnv = null);

public sealed record StopBody(ReplicaSelector Replica, int GraceSeconds = 10);

public sealed record ReplicaBody(ReplicaSelector Replica);

public sealed record RemoveBody(ReplicaSelector Replica, bool Force = true);

/// <summary>
/// Removes one container by id: refused unless its labels make it this node's Automator67 container, and, with
/// <see cref="Generation"/>, only while it carries that generation (a superseded placement being fenced). A container
/// already gone is success.
/// </summary>
public sealed record RemoveContainerBody(string ContainerId, long? Generation, string Reason);

public sealed record LogsBody(ReplicaSelector Replica, int Tail = 100, int MaxBytes = 32 * 1024);

/// <summary>HTTP GET (<see cref="Path"/> on <see cref="Port"/>), TCP connect, or exec in the container; within <see cref="TimeoutMs"/>.</summary>
public sealed record ProbeBody(ReplicaSelector Replica, string Kind, int? Port, string? Path, IReadOnlyList<string>? Command, int TimeoutMs = 2000);

public static class ProbeKinds
{
    public const string Http = "http";
    public const string Tcp = "tcp";
    public const string Exec = "exec";
}
