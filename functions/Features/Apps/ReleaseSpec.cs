namespace Automator67.Functions.Features.Apps;

/// <summary>
/// What should run: the body of a deployment and, after <see cref="Normalize"/>, the stored spec of a release.
/// JSON is camelCase; <c>docs/apps.md</c> describes every field with its default and limits.
/// </summary>
/// <remarks>
/// Nullable members are either required (checked by <see cref="ReleaseSpecValidation"/>, which names the field) or
/// mean something when null (no health check, no limit, the image's own entrypoint). Members with a default value
/// take it when the JSON leaves them out. A normalized spec has every default written out, so a stored release never
/// changes meaning when a default does. <see cref="Secrets"/> maps an environment variable to the name of one of the
/// app's secrets: the release stores the reference, never the value, which is read and sealed to each node when a
/// replica starts. A release stored before secrets existed reads back with <see cref="Secrets"/> null: none.
/// </remarks>
public sealed record ReleaseSpec(
    string? Image,
    string? Registry = null,
    IReadOnlyList<string>? Command = null,
    IReadOnlyList<string>? Args = null,
    IReadOnlyDictionary<string, string>? Env = null,
    IReadOnlyDictionary<string, string>? Secrets = null,
    IReadOnlyList<ReleasePort>? Ports = null,
    ReleaseResources? Resources = null,
    int Replicas = ReleaseSpec.DefaultReplicas,
    ReleaseHealthCheck? HealthCheck = null,
    ReleaseRestartPolicy? RestartPolicy = null,
    IReadOnlyList<string>? Constraints = null,
    ReleaseRollout? Rollout = null)
{
    public const int DefaultReplicas = 1;

    /// <summary>
    /// The spec with every default written out: image tag <c>latest</c> when it has neither tag nor digest, empty env,
    /// ports, constraints, resources and the default restart policy and rollout; a health check's fields for its kind.
    /// Call it on a spec <see cref="ReleaseSpecValidation.Validate"/> accepted; normalizing twice changes nothing.
    /// </summary>
    public ReleaseSpec Normalize() => this with
    {
        Image = ImageReference.TryParse(Image, out var image, out _) ? image.WithDefaultTag().ToString() : Image,
        Env = Env ?? new Dictionary<string, string>(),
        Secrets = Secrets ?? new Dictionary<string, string>(),
        Ports = [.. (Ports ?? []).Select(p => p with { Protocol = p.Protocol ?? ReleasePort.Tcp })],
        Resources = Resources ?? new ReleaseResources(),
        HealthCheck = HealthCheck?.Normalize(),
        RestartPolicy = RestartPolicy ?? new ReleaseRestartPolicy(),
        Constraints = Constraints ?? [],
        Rollout = Rollout ?? new ReleaseRollout(),
    };
}

/// <summary>A container port, published on <see cref="HostPort"/> (null: a free port the engine picks).</summary>
public sealed record ReleasePort(int ContainerPort, int? HostPort = null, string? Protocol = ReleasePort.Tcp)
{
    public const string Tcp = "tcp";
    public const string Udp = "udp";
}

/// <summary>Limits per replica; null means none (for <see cref="Pids"/>: the relay's default bound).</summary>
/// <param name="Cpus">CPUs, e.g. 0.5 (the relay's <c>NanoCpus</c> is this × 10⁹).</param>
/// <param name="MemoryMiB">Memory in MiB (the relay's <c>MemoryBytes</c> is this × 2²⁰).</param>
/// <param name="Pids">Most processes at once.</param>
public sealed record ReleaseResources(decimal? Cpus = null, int? MemoryMiB = null, int? Pids = null);

/// <summary>How the relay decides a replica is healthy: an HTTP GET, a TCP connect, or a command in the container.</summary>
public sealed record ReleaseHealthCheck(
    string? Kind,
    int? Port = null,
    string? Path = null,
    IReadOnlyList<string>? Command = null,
    int IntervalSeconds = 5,
    int? TimeoutSeconds = null,
    int Retries = 3,
    int StartPeriodSeconds = 0)
{
    public const string Http = "http";
    public const string Tcp = "tcp";
    public const string Exec = "exec";

    /// <summary>Without a timeout, a probe waits 2 s, or the interval when that is shorter.</summary>
    public const int DefaultTimeoutSeconds = 2;

    /// <summary>How long one probe may take (the timeout given, else the default).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int ProbeTimeoutSeconds => TimeoutSeconds ?? Math.Min(DefaultTimeoutSeconds, IntervalSeconds);

    /// <summary>An HTTP check without a path asks for <c>/</c>; the timeout is written out.</summary>
    public ReleaseHealthCheck Normalize() => (Kind == Http ? this with { Path = Path ?? "/" } : this) with { TimeoutSeconds = ProbeTimeoutSeconds };
}

/// <summary>Docker's restart policy for each container; <see cref="MaximumRetryCount"/> counts only for <c>on-failure</c>.</summary>
public sealed record ReleaseRestartPolicy(string? Name = ReleaseRestartPolicy.UnlessStopped, int MaximumRetryCount = 0)
{
    public const string No = "no";
    public const string Always = "always";
    public const string UnlessStopped = "unless-stopped";
    public const string OnFailure = "on-failure";

    public static readonly IReadOnlyList<string> Names = [No, Always, UnlessStopped, OnFailure];
}

/// <summary>
/// How a new release replaces the old one, as counts of replicas: at most <see cref="MaxSurge"/> above the desired
/// number and at most <see cref="MaxUnavailable"/> below it at any time.
/// </summary>
public sealed record ReleaseRollout(int MaxSurge = 1, int MaxUnavailable = 0);
