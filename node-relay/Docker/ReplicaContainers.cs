using System.Globalization;
using System.Text;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Automator67.NodeRelay.Run;
using Docker.DotNet.Models;

namespace Automator67.NodeRelay.Docker;

/// <summary>
/// Finds the containers this relay made. Every query filters on the <c>automator67.app</c> label and on this node's
/// id, so the relay never sees, let alone touches, a container it did not make, nor one of another relay on the
/// same Docker Engine.
/// </summary>
public sealed class ReplicaContainers(DockerEngine docker, RelayIdentity identity)
{
    /// <summary>Every container of this node (any state).</summary>
    public async Task<IList<ContainerListResponse>> ListOwnAsync(CancellationToken ct) => await ListAsync([], ct);

    /// <summary>The replica's containers, newest generation first; of one generation only when <paramref name="generation"/> is given.</summary>
    public async Task<IReadOnlyList<ContainerListResponse>> FindAsync(ReplicaSelector replica, long? generation, CancellationToken ct)
    {
        var labels = new List<string>
        {
            $"{ContainerLabels.App}={replica.App}",
            $"{ContainerLabels.Release}={replica.Release}",
            $"{ContainerLabels.Replica}={replica.Replica.ToString(CultureInfo.InvariantCulture)}",
        };
        if (generation is { } g)
        {
            labels.Add($"{ContainerLabels.Generation}={g.ToString(CultureInfo.InvariantCulture)}");
        }

        var found = await ListAsync(labels, ct);
        return [.. found.OrderByDescending(c => GenerationOf(c.Labels) ?? -1).ThenByDescending(c => c.Created)];
    }

    async Task<IList<ContainerListResponse>> ListAsync(List<string> labels, CancellationToken ct)
    {
        var filter = new Dictionary<string, bool>
        {
            [ContainerLabels.App] = true,
            [$"{ContainerLabels.Node}={identity.NodeId}"] = true,
        };
        foreach (var label in labels)
        {
            filter[label] = true;
        }

        return await docker.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = filter },
        }, ct);
    }

    /// <summary>Whether labels mark a container as made by this relay: only those are ever touched.</summary>
    public bool IsOurs(IDictionary<string, string>? labels) =>
        labels is not null && labels.ContainsKey(ContainerLabels.App) && LabelOf(labels, ContainerLabels.Node) == identity.NodeId.ToString();

    /// <summary>
    /// The container's name: readable, and the same on every delivery of the command, so the Engine itself refuses a
    /// second container for one replica generation even if the label lookup raced. The node id's random tail (node ids
    /// are time-ordered, so their heads are alike) keeps two relays on one Engine apart.
    /// </summary>
    public string NameOf(ReplicaSelector replica, long generation)
    {
        var name = new StringBuilder("a67");
        foreach (var part in new[] { replica.App, replica.Release, replica.Replica.ToString(CultureInfo.InvariantCulture), $"g{generation.ToString(CultureInfo.InvariantCulture)}", identity.NodeId.ToString("N")[^12..] })
        {
            name.Append('-');
            foreach (var c in part)
            {
                name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' ? c : '-');
            }
        }

        return name.Length <= 200 ? name.ToString() : name.ToString(0, 200);
    }

    public Dictionary<string, string> LabelsFor(ReplicaSelector replica, long generation, Guid commandId, IReadOnlyDictionary<string, string> extra)
    {
        var labels = new Dictionary<string, string>(extra, StringComparer.Ordinal)
        {
            [ContainerLabels.App] = replica.App,
            [ContainerLabels.Release] = replica.Release,
            [ContainerLabels.Replica] = replica.Replica.ToString(CultureInfo.InvariantCulture),
            [ContainerLabels.Generation] = generation.ToString(CultureInfo.InvariantCulture),
            [ContainerLabels.Node] = identity.NodeId.ToString(),
            [ContainerLabels.Command] = commandId.ToString(),
        };
        return labels;
    }

    /// <summary>A selector fit to become labels and a name: otherwise the command is refused.</summary>
    public static void Validate(ReplicaSelector? replica)
    {
        if (replica is null || string.IsNullOrWhiteSpace(replica.App) || string.IsNullOrWhiteSpace(replica.Release))
        {
            throw new CommandRefusedException("the command names no replica (app, release and replica number are required)");
        }

        if (replica.Replica < 0 || replica.App.Length > 128 || replica.Release.Length > 128 || replica.App.Any(char.IsControl) || replica.Release.Any(char.IsControl))
        {
            throw new CommandRefusedException("the replica selector is malformed (app and release: 1-128 printable characters; replica: 0 or more)");
        }
    }

    public static string? LabelOf(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    public static int ReplicaOf(IDictionary<string, string>? labels) =>
        int.TryParse(LabelOf(labels, ContainerLabels.Replica), CultureInfo.InvariantCulture, out var replica) ? replica : -1;

    public static long? GenerationOf(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(ContainerLabels.Generation, out var value) && long.TryParse(value, CultureInfo.InvariantCulture, out var generation)
            ? generation
            : null;

    /// <summary>
    /// The host ports the Engine bound, per container port: an automatic one is chosen each time the container starts
    /// (a restart may change it). One per port: the IPv4 binding when there is one (IPv4 and IPv6 may differ).
    /// </summary>
    public static List<Contracts.Relay.PortBinding> HostPorts(ContainerInspectResponse inspected)
    {
        var ports = new List<Contracts.Relay.PortBinding>();
        foreach (var (key, bindings) in inspected.NetworkSettings?.Ports ?? new Dictionary<string, IList<global::Docker.DotNet.Models.PortBinding>>())
        {
            var parts = key.Split('/');
            if (!int.TryParse(parts[0], CultureInfo.InvariantCulture, out var containerPort))
            {
                continue;
            }

            var protocol = parts.Length > 1 ? parts[1] : "tcp";
            var chosen = (bindings ?? []).OrderBy(b => b.HostIP?.Contains(':', StringComparison.Ordinal) == true ? 1 : 0)
                .FirstOrDefault(b => int.TryParse(b.HostPort, CultureInfo.InvariantCulture, out _));
            if (chosen is not null)
            {
                ports.Add(new Contracts.Relay.PortBinding(containerPort, int.Parse(chosen.HostPort, CultureInfo.InvariantCulture), protocol));
            }
        }

        return ports;
    }

    /// <summary>What the control plane learns of one container, from an inspect (and stats, for heartbeats).</summary>
    public static ContainerReport Report(ContainerInspectResponse container, ContainerStats? stats)
    {
        var labels = container.Config?.Labels ?? new Dictionary<string, string>();
        var state = container.State;
        return new ContainerReport(
            container.ID,
            container.Name.TrimStart('/'),
            LabelOf(labels, ContainerLabels.App) ?? "",
            LabelOf(labels, ContainerLabels.Release) ?? "",
            ReplicaOf(labels),
            GenerationOf(labels),
            state?.Status ?? "unknown",
            state is null || state.Running ? null : (int)state.ExitCode,
            (int)container.RestartCount,
            StartedAt(state?.StartedAt),
            state?.Health?.Status is { Length: > 0 } health ? health : null,
            stats,
            state?.Running == true ? HostPorts(container) : null);
    }

    // The Engine writes "0001-01-01T00:00:00Z" for a container that never started.
    static DateTimeOffset? StartedAt(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at.Year > 1 ? at : null;
}
