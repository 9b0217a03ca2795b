using System.Globalization;
using Automator67.Functions.Features.Apps;

namespace Automator67.Functions.Features.Operations;

/// <summary>A node placement may use: Ready, not draining, with what already runs there reserved.</summary>
public sealed record PlacementNode(
    Guid Id,
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    int Cpus,
    long MemoryBytes,
    decimal ReservedCpus,
    long ReservedMemoryBytes,
    int AppReplicas,
    int Replicas,
    IReadOnlySet<string> HostPortsInUse);

/// <summary>Nodes for the replicas (one entry each), or why they do not fit.</summary>
public sealed record PlacementResult(IReadOnlyList<Guid>? Nodes, string? Problem);

/// <summary>
/// Spreads replicas over the nodes that meet a release's constraints and have room: CPU and memory reserved by what
/// runs there (limits count as reservations; no limit reserves nothing) and its fixed host ports free. Each replica
/// goes to the node with the fewest replicas of this app, then the least loaded, so replicas spread before they stack.
/// </summary>
public static class Placement
{
    public static PlacementResult Place(int count, ReleaseSpec spec, IReadOnlyList<PlacementNode> nodes)
    {
        if (count <= 0)
        {
            return new PlacementResult([], null);
        }

        var constraints = (spec.Constraints ?? [])
            .Select(c => PlacementConstraint.TryParse(c, out var parsed, out _) ? parsed : null)
            .OfType<PlacementConstraint>()
            .ToList();
        if (nodes.Count == 0)
        {
            return new PlacementResult(null, "no node is Ready: enrol a node, or wait until one sends heartbeats again (draining nodes take no replicas).");
        }

        var eligible = nodes.Where(n => constraints.All(c => c.IsMetBy(n.Labels))).ToList();
        if (eligible.Count == 0)
        {
            var unmet = constraints.Where(c => !nodes.Any(n => c.IsMetBy(n.Labels))).Select(c => $"'{c}'").ToList();
            var checkedNodes = $"{nodes.Count} Ready node{(nodes.Count > 1 ? "s" : "")} checked";
            return new PlacementResult(null, unmet.Count > 0
                ? $"no Ready node meets the constraint{(unmet.Count > 1 ? "s" : "")} {string.Join(", ", unmet)} ({checkedNodes})."
                : $"no single Ready node meets all of {string.Join(", ", constraints.Select(c => $"'{c}'"))} ({checkedNodes}).");
        }

        var cpus = spec.Resources?.Cpus ?? 0m;
        var memory = (spec.Resources?.MemoryMiB ?? 0) * 1024L * 1024L;
        var fixedPorts = (spec.Ports ?? []).Where(p => p.HostPort is not null).Select(p => PortKey(p.HostPort!.Value, p.Protocol)).ToList();
        var state = eligible.Select(n => new Slot(n)).ToList();
        var chosen = new List<Guid>(count);
        for (var i = 0; i < count; i++)
        {
            var fits = state.Where(s => s.Fits(cpus, memory, fixedPorts)).ToList();
            if (fits.Count == 0)
            {
                return new PlacementResult(null, NoRoom(i, count, cpus, memory, fixedPorts, state));
            }

            var best = fits
                .OrderBy(s => s.AppReplicas)
                .ThenBy(s => s.Load)
                .ThenBy(s => s.Replicas)
                .ThenBy(s => s.Node.Name, StringComparer.Ordinal)
                .First();
            best.Take(cpus, memory, fixedPorts);
            chosen.Add(best.Node.Id);
        }

        return new PlacementResult(chosen, null);
    }

    public static string PortKey(int port, string? protocol) => $"{port.ToString(CultureInfo.InvariantCulture)}/{protocol ?? ReleasePort.Tcp}";

    static string NoRoom(int placed, int count, decimal cpus, long memory, List<string> ports, List<Slot> state)
    {
        var prefix = placed == 0 ? $"no Ready node that meets the constraints has room for a replica" : $"only {placed} of {count} replicas fit";
        if (ports.Count > 0 && state.All(s => ports.Any(s.HostPorts.Contains)))
        {
            return $"{prefix}: host port {string.Join(", ", ports)} is taken on every eligible node (a fixed host port allows one replica per node).";
        }

        if (cpus > 0 && state.All(s => s.ReservedCpus + cpus > s.Node.Cpus))
        {
            var most = state.Max(s => s.Node.Cpus - s.ReservedCpus);
            return $"{prefix}: not enough CPU (resources.cpus {cpus.ToString(CultureInfo.InvariantCulture)} per replica; the most free on a node is {most.ToString(CultureInfo.InvariantCulture)}).";
        }

        if (state.All(s => s.ReservedMemory + memory > s.Node.MemoryBytes))
        {
            var free = state.Max(s => s.Node.MemoryBytes - s.ReservedMemory) / (1024 * 1024);
            return $"{prefix}: not enough memory (resources.memoryMiB {memory / (1024 * 1024)} per replica; the most free on a node is {free} MiB).";
        }

        // No single shortage explains it (one node lacks CPU, another memory or the port): say what each lacks.
        var lacking = new List<string>();
        AddLack(lacking, state.Count(s => ports.Any(s.HostPorts.Contains)), $"host port {string.Join(", ", ports)} taken");
        AddLack(lacking, state.Count(s => s.ReservedCpus + cpus > s.Node.Cpus), $"not enough CPU (resources.cpus {cpus.ToString(CultureInfo.InvariantCulture)} per replica)");
        AddLack(lacking, state.Count(s => s.ReservedMemory + memory > s.Node.MemoryBytes), $"not enough memory (resources.memoryMiB {memory / (1024 * 1024)} per replica)");
        return $"{prefix}: every eligible node lacks something: {string.Join("; ", lacking)}.";
    }

    static void AddLack(List<string> lacking, int nodes, string what)
    {
        if (nodes > 0)
        {
            lacking.Add($"{what} on {nodes} node{(nodes > 1 ? "s" : "")}");
        }
    }

    sealed class Slot(PlacementNode node)
    {
        public PlacementNode Node { get; } = node;
        public decimal ReservedCpus { get; private set; } = node.ReservedCpus;
        public long ReservedMemory { get; private set; } = node.ReservedMemoryBytes;
        public int AppReplicas { get; private set; } = node.AppReplicas;
        public int Replicas { get; private set; } = node.Replicas;
        public HashSet<string> HostPorts { get; } = [.. node.HostPortsInUse];

        public double Load => Node.MemoryBytes <= 0 ? 1 : (double)ReservedMemory / Node.MemoryBytes;

        public bool Fits(decimal cpus, long memory, List<string> ports) =>
            ReservedCpus + cpus <= Node.Cpus && ReservedMemory + memory <= Node.MemoryBytes && !ports.Any(HostPorts.Contains);

        public void Take(decimal cpus, long memory, List<string> ports)
        {
            ReservedCpus += cpus;
            ReservedMemory += memory;
            AppReplicas++;
            Replicas++;
            HostPorts.UnionWith(ports);
        }
    }
}
