using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Automator67.NodeRelay.Docker;

namespace Automator67.NodeRelay;

/// <summary>Relay settings. Values: <c>Relay__DockerEndpoint</c>, …</summary>
public sealed partial class RelayOptions : IValidatableObject
{
    public const string Section = "Relay";

    /// <summary>The Docker Engine API: a unix socket or tcp address. Default: <c>unix:///var/run/docker.sock</c>.</summary>
    [Required(ErrorMessage = "Setting Relay__DockerEndpoint is required.")]
    public string DockerEndpoint { get; set; } = "unix:///var/run/docker.sock";

    /// <summary>Where the relay keeps its identity, key and credentials (mode 0700/0600). Default: <c>/var/lib/automator67-relay</c>.</summary>
    [Required(ErrorMessage = "Setting Relay__StateDirectory is required.")]
    public string StateDirectory { get; set; } = "/var/lib/automator67-relay";

    /// <summary>Time allowed for one Docker API call that is not a stream. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Setting Relay__DockerTimeout must be between 00:00:01 and 00:10:00.")]
    public TimeSpan DockerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest pause between two polls of an idle command queue; after work the relay polls again at once. Default: 2 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00", ErrorMessage = "Setting Relay__MaxPollInterval must be between 00:00:00.050 and 00:01:00.")]
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a received command stays invisible to other receivers; the relay extends it while the command runs,
    /// so this is only how soon a command comes back after the relay died holding it. Default: 60 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:03", "01:00:00", ErrorMessage = "Setting Relay__VisibilityTimeout must be between 00:00:03 and 01:00:00.")]
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Commands executed at once (commands for one replica always run one after another). Default: 4.</summary>
    [Range(1, 16, ErrorMessage = "Setting Relay__MaxConcurrentCommands must be between 1 and 16.")]
    public int MaxConcurrentCommands { get; set; } = 4;

    /// <summary>On SIGTERM, how long a running command may finish before it is abandoned (and redelivered later). Default: 20 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "Setting Relay__ShutdownGrace must be between 00:00:00 and 00:10:00.")]
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long executed command ids (and their results) are remembered, at least; a command is also remembered until it expires. Default: 7 days.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00", ErrorMessage = "Setting Relay__JournalRetention must be between 00:01:00 and 90.00:00:00.")]
    public TimeSpan JournalRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The longest an image pull may take. Default: 30 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Setting Relay__PullTimeout must be between 00:00:10 and 1.00:00:00.")]
    public TimeSpan PullTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The pids limit of a replica whose command sets none. Default: 512.</summary>
    [Range(16, 1_000_000, ErrorMessage = "Setting Relay__DefaultPidsLimit must be between 16 and 1000000.")]
    public long DefaultPidsLimit { get; set; } = 512;

    /// <summary>
    /// Capabilities a replica may ask for (comma-separated); every other one is dropped, and asking for it is refused.
    /// Default: <c>CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,NET_BIND_SERVICE,SETGID,SETUID</c> (Docker's defaults without
    /// the riskier NET_RAW, MKNOD, SYS_CHROOT, SETFCAP, SETPCAP, AUDIT_WRITE).
    /// </summary>
    public string AllowedCapabilities { get; set; } = "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,NET_BIND_SERVICE,SETGID,SETUID";

    /// <summary>
    /// The Docker network a replica of network mode <c>bridge</c> joins: the Engine's default bridge, or a bridge
    /// network made for replicas (an Engine started with <c>--bridge=none</c> has no default one). Default: <c>bridge</c>.
    /// </summary>
    public string BridgeNetwork { get; set; } = "bridge";

    /// <summary>Host folders (comma-separated, absolute) a replica may mount, with what lies below them; never the Docker socket. Default: none.</summary>
    public string AllowedHostPaths { get; set; } = "";

    /// <summary>
    /// Extra labels put on every container this relay makes: <c>Relay__ContainerLabels__team=web</c>. They cannot
    /// replace Automator67's own labels. Default: none.
    /// </summary>
    public Dictionary<string, string> ContainerLabels { get; set; } = new(StringComparer.Ordinal);

    public IReadOnlyList<string> CapabilityAllowlist() => Split(AllowedCapabilities).Select(Capabilities.Normalize).ToList();

    public IReadOnlyList<string> HostPathAllowlist() => Split(AllowedHostPaths);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Uri.TryCreate(DockerEndpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("unix" or "tcp" or "http" or "https"))
        {
            yield return new ValidationResult(
                $"Setting Relay__DockerEndpoint must be a unix:// or tcp:// address such as unix:///var/run/docker.sock, not '{DockerEndpoint}'.",
                [nameof(DockerEndpoint)]);
        }

        if (!NetworkName().IsMatch(BridgeNetwork) || BridgeNetwork is "host" or "none")
        {
            yield return new ValidationResult($"Setting Relay__BridgeNetwork must name a bridge network of the Engine (letters, digits, '_', '.', '-'), not '{BridgeNetwork}'.",
                [nameof(BridgeNetwork)]);
        }

        foreach (var path in HostPathAllowlist().Where(p => !Path.IsPathFullyQualified(p)))
        {
            yield return new ValidationResult($"Setting Relay__AllowedHostPaths must list absolute folders, not '{path}'.", [nameof(AllowedHostPaths)]);
        }

        foreach (var capability in CapabilityAllowlist().Where(c => c is "ALL" or "SYS_ADMIN"))
        {
            yield return new ValidationResult($"Setting Relay__AllowedCapabilities must not allow {capability}: it is as good as privileged mode.", [nameof(AllowedCapabilities)]);
        }

        string[] own = [Contracts.Relay.ContainerLabels.App, Contracts.Relay.ContainerLabels.Release, Contracts.Relay.ContainerLabels.Replica,
            Contracts.Relay.ContainerLabels.Node, Contracts.Relay.ContainerLabels.Command, Contracts.Relay.ContainerLabels.Generation];
        foreach (var key in ContainerLabels.Keys.Where(own.Contains))
        {
            yield return new ValidationResult($"Setting Relay__ContainerLabels__{key} would replace a label Automator67 sets itself; choose another name.", [nameof(ContainerLabels)]);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex NetworkName();

    static List<string> Split(string list) => [.. list.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
