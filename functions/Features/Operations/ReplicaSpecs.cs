using System.Globalization;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;

namespace Automator67.Functions.Features.Operations;

/// <summary>A release's spec as the relay's commands take it.</summary>
public static class ReplicaSpecs
{
    /// <summary>Which container: the labels carry the app's name, the release number and the slot.</summary>
    public static ReplicaSelector Selector(string appName, Release release, int slot) =>
        new(appName, release.Number.ToString(CultureInfo.InvariantCulture), slot);

    public static RunReplicaBody RunReplica(string appName, Release release, int slot, long generation)
    {
        var spec = release.Spec;
        var resources = spec.Resources;
        return new RunReplicaBody(
            Selector(appName, release, slot),
            generation,
            spec.Image!,
            spec.Args,
            spec.Env,
            [.. (spec.Ports ?? []).Select(p => new PortBinding(p.ContainerPort, p.HostPort, p.Protocol ?? ReleasePort.Tcp))],
            new ResourceLimits(
                resources?.Cpus is { } cpus ? (long)(cpus * 1_000_000_000m) : null,
                resources?.MemoryMiB is { } memory ? memory * 1024L * 1024L : null,
                resources?.Pids),
            spec.RestartPolicy is { } restart ? new RestartPolicySpec(restart.Name ?? ReleaseRestartPolicy.UnlessStopped, restart.MaximumRetryCount) : null,
            null,
            null,
            "bridge",
            spec.Command);
    }

    public static ProbeBody Probe(string appName, Release release, int slot, ReleaseHealthCheck check) =>
        new(Selector(appName, release, slot), check.Kind!, check.Port, check.Path, check.Command, check.ProbeTimeoutSeconds * 1000);
}
