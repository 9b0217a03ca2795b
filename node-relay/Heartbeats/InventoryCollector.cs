using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Docker;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.NodeRelay.Heartbeats;

/// <summary>
/// The inventory a heartbeat carries: every container of this node (labelled <c>automator67.app</c> and this node's
/// id) with its state and, if running, one-shot stats. Containers are read 8 at a time with a 5 s bound each, so 50
/// containers or one stuck container do not make a heartbeat late: a container that does not answer in time is
/// reported with what the list knew. CPU % is measured between two heartbeats (a one-shot sample has no "before").
/// </summary>
public sealed class InventoryCollector(DockerEngine docker, ReplicaContainers containers)
{
    const int Concurrency = 8;
    static readonly TimeSpan PerContainer = TimeSpan.FromSeconds(5);

    // The previous CPU sample of each container, kept only for containers that still exist.
    readonly Dictionary<string, CpuSample> _previous = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<ContainerReport>> CollectAsync(CancellationToken ct)
    {
        var list = await containers.ListOwnAsync(ct);
        var reports = new ContainerReport[list.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, list.Count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct },
            async (i, token) => reports[i] = await ReportAsync(list[i], token));

        lock (_previous)
        {
            foreach (var gone in _previous.Keys.Except(list.Select(c => c.ID)).ToList())
            {
                _previous.Remove(gone);
            }
        }

        return reports;
    }

    async Task<ContainerReport> ReportAsync(ContainerListResponse container, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PerContainer);
        try
        {
            var inspect = await docker.Client.Containers.InspectContainerAsync(container.ID, timeout.Token);
            var stats = inspect.State?.Running == true ? await StatsAsync(container.ID, timeout.Token) : null;
            return ReplicaContainers.Report(inspect, stats);
        }
        catch (Exception ex) when (ex is DockerApiException || DockerErrors.IsUnreachable(ex, ct))
        {
            return FromList(container);
        }
    }

    async Task<ContainerStats?> StatsAsync(string id, CancellationToken ct)
    {
        var sample = new LastSample();
        await docker.Client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = false, OneShot = true }, sample, ct);
        if (sample.Value is not { } stats)
        {
            return null;
        }

        var now = new CpuSample(stats.CPUStats?.CPUUsage?.TotalUsage ?? 0, stats.CPUStats?.SystemUsage ?? 0, stats.CPUStats?.OnlineCPUs ?? 1);
        CpuSample? before;
        lock (_previous)
        {
            before = _previous.GetValueOrDefault(id);
            _previous[id] = now;
        }

        var cpu = 0.0;
        if (before is not null && now.System > before.System && now.Container >= before.Container)
        {
            cpu = (double)(now.Container - before.Container) / (now.System - before.System) * Math.Max(1u, now.OnlineCpus) * 100.0;
        }

        var memory = stats.MemoryStats;
        var used = memory?.Usage ?? 0;
        // As `docker stats` counts it: page cache that can be dropped is not "used".
        if (memory?.Stats is { } detail)
        {
            if (detail.TryGetValue("total_inactive_file", out var inactive) && inactive < used)
            {
                used -= inactive;
            }
            else if (detail.TryGetValue("inactive_file", out inactive) && inactive < used)
            {
                used -= inactive;
            }
        }

        var networks = stats.Networks?.Values ?? [];
        return new ContainerStats(
            Math.Round(cpu, 2),
            (long)used,
            (long)(memory?.Limit ?? 0),
            (long)networks.Aggregate(0UL, (sum, n) => sum + n.RxBytes),
            (long)networks.Aggregate(0UL, (sum, n) => sum + n.TxBytes));
    }

    static ContainerReport FromList(ContainerListResponse container)
    {
        var labels = container.Labels ?? new Dictionary<string, string>();
        return new ContainerReport(
            container.ID,
            (container.Names is { Count: > 0 } names ? names[0].TrimStart('/') : "") ?? "",
            ReplicaContainers.LabelOf(labels, ContainerLabels.App) ?? "",
            ReplicaContainers.LabelOf(labels, ContainerLabels.Release) ?? "",
            ReplicaContainers.ReplicaOf(labels),
            ReplicaContainers.GenerationOf(labels),
            container.State ?? "unknown",
            null,
            0,
            null,
            null,
            null);
    }

    sealed record CpuSample(ulong Container, ulong System, uint OnlineCpus);

    // Synchronous, so the one sample is there when the call returns.
    sealed class LastSample : IProgress<ContainerStatsResponse>
    {
        public ContainerStatsResponse? Value { get; private set; }

        public void Report(ContainerStatsResponse value) => Value = value;
    }
}
