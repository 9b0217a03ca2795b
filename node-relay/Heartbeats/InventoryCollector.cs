using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Docker;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.NodeRelay.Heartbeats;

/// <summary>
/// The inventory a heartbeat carries: every container of this node (labelled <c>automator67.app</c> and this node's
/// id) with its state and its latest stats. Inspects are quick and read 16 at a time, each within 5 s; a container
/// that does not answer in time is reported with what the list knew. Stats are slow: the Engine answers a one-shot
/// stats call at its next collection tick (about 1 s here, however many calls wait for it), so they are refreshed
/// between heartbeats, 16 at a time, oldest first, and a heartbeat carries the latest sample of each container
/// instead of waiting for new ones: 50 containers never make a heartbeat late. CPU % is measured between two
/// samples of a container, since a one-shot sample has no "before".
/// </summary>
public sealed class InventoryCollector(DockerEngine docker, ReplicaContainers containers, TimeProvider time)
{
    const int Concurrency = 16;
    static readonly TimeSpan PerContainer = TimeSpan.FromSeconds(5);

    // The latest sample of each container, kept only for containers that still exist.
    readonly Dictionary<string, Sample> _samples = new(StringComparer.Ordinal);
    Task _refreshing = Task.CompletedTask;

    public async Task<IReadOnlyList<ContainerReport>> CollectAsync(CancellationToken ct)
    {
        var list = await containers.ListOwnAsync(ct);
        var reports = new ContainerReport[list.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, list.Count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct },
            async (i, token) => reports[i] = await ReportAsync(list[i], token));

        lock (_samples)
        {
            foreach (var gone in _samples.Keys.Except(list.Select(c => c.ID)).ToList())
            {
                _samples.Remove(gone);
            }
        }

        return reports;
    }

    /// <summary>Starts refreshing the stats of these running containers within <paramref name="budget"/>, unless a refresh is still running.</summary>
    public void RefreshStats(IEnumerable<string> running, TimeSpan budget, CancellationToken ct)
    {
        if (!_refreshing.IsCompleted)
        {
            return;
        }

        List<string> ids;
        lock (_samples)
        {
            ids = [.. running.OrderBy(id => _samples.TryGetValue(id, out var s) ? s.At : DateTimeOffset.MinValue)];
        }

        _refreshing = Task.Run(async () =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(budget);
            try
            {
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = timeout.Token },
                    async (id, token) => await SampleAsync(id, token));
            }
            catch (OperationCanceledException)
            {
                // Out of time: the rest are refreshed first next round.
            }
        }, CancellationToken.None);
    }

    async Task<ContainerReport> ReportAsync(ContainerListResponse container, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PerContainer);
        try
        {
            var inspect = await docker.Client.Containers.InspectContainerAsync(container.ID, timeout.Token);
            ContainerStats? stats = null;
            if (inspect.State?.Running == true)
            {
                lock (_samples)
                {
                    stats = _samples.GetValueOrDefault(container.ID)?.Stats;
                }
            }

            return ReplicaContainers.Report(inspect, stats);
        }
        catch (Exception ex) when (ex is DockerApiException || DockerErrors.IsUnreachable(ex, ct))
        {
            return FromList(container);
        }
    }

    async Task SampleAsync(string id, CancellationToken ct)
    {
        var reading = new LastReading();
        try
        {
            await docker.Client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = false, OneShot = true }, reading, ct);
        }
        catch (Exception ex) when (ex is DockerApiException || DockerErrors.IsUnreachable(ex, ct))
        {
            return;
        }

        if (reading.Value is not { } raw)
        {
            return;
        }

        var cpu = new CpuReading(raw.CPUStats?.CPUUsage?.TotalUsage ?? 0, raw.CPUStats?.SystemUsage ?? 0, Math.Max(1u, raw.CPUStats?.OnlineCPUs ?? 1));
        lock (_samples)
        {
            var before = _samples.GetValueOrDefault(id)?.Cpu;
            var percent = before is not null && cpu.System > before.System && cpu.Container >= before.Container
                ? (double)(cpu.Container - before.Container) / (cpu.System - before.System) * cpu.OnlineCpus * 100.0
                : 0.0;
            _samples[id] = new Sample(time.GetUtcNow(), cpu, Stats(raw, percent));
        }
    }

    static ContainerStats Stats(ContainerStatsResponse raw, double cpuPercent)
    {
        var memory = raw.MemoryStats;
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

        var networks = raw.Networks?.Values ?? [];
        return new ContainerStats(
            Math.Round(cpuPercent, 2),
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
            container.Names is { Count: > 0 } names ? names[0].TrimStart('/') : "",
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

    sealed record CpuReading(ulong Container, ulong System, uint OnlineCpus);

    sealed record Sample(DateTimeOffset At, CpuReading Cpu, ContainerStats Stats);

    // Synchronous, so the one reading is there when the call returns.
    sealed class LastReading : IProgress<ContainerStatsResponse>
    {
        public ContainerStatsResponse? Value { get; private set; }

        public void Report(ContainerStatsResponse value) => Value = value;
    }
}
