using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Docker;
using Automator67.NodeRelay.Run;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Heartbeats;

/// <summary>
/// Every <see cref="Enrollment.RelayState.HeartbeatSeconds"/>, and once at start: the host's facts and the inventory
/// of this node's containers, signed, to the events queue. A heartbeat that would not fit one message is split into
/// parts (all with the same <c>sentAt</c>); one that cannot be sent within an interval is given up, and logged,
/// since the next one is fresher. With the Docker Engine down there is nothing true to report, so none is sent.
/// </summary>
public sealed partial class HeartbeatWorker(
    RelayIdentity identity,
    DockerEngine docker,
    InventoryCollector inventory,
    EventSender events,
    TimeProvider time,
    ILogger<HeartbeatWorker> logger) : BackgroundService
{
    readonly TimeSpan _interval = TimeSpan.FromSeconds(Math.Max(1, identity.State.HeartbeatSeconds));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval, time);
        try
        {
            do
            {
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                beat.CancelAfter(_interval);
                try
                {
                    await BeatAsync(beat.Token, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // One missed heartbeat is not fatal: the next tick tries again.
                    LogSkipped(ex.GetBaseException().Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    async Task BeatAsync(CancellationToken ct, CancellationToken stopping)
    {
        var started = time.GetTimestamp();
        var facts = await docker.ReadHostFactsAsync(ct);
        var containers = await inventory.CollectAsync(ct);
        var parts = Sign(events, facts, containers, time.GetUtcNow());
        foreach (var part in parts)
        {
            await events.SendAsync(part, "heartbeat", ct);
        }

        // Fresh stats for the next heartbeat, gathered in the meantime.
        inventory.RefreshStats(containers.Where(c => c.State == "running").Select(c => c.Id), _interval, stopping);

        var elapsedMs = (long)time.GetElapsedTime(started).TotalMilliseconds;
        LogSent(containers.Count, parts.Count, elapsedMs);
    }

    /// <summary>Signs the heartbeat in as few parts as fit one message each; never drops a container.</summary>
    public static List<string> Sign(EventSender events, HostFacts facts, IReadOnlyList<ContainerReport> containers, DateTimeOffset sentAt)
    {
        for (var count = 1; ; count *= 2)
        {
            var size = (containers.Count + count - 1) / Math.Max(1, count);
            var chunks = containers.Count == 0 ? [[]] : containers.Chunk(Math.Max(1, size)).ToList();
            var signed = new List<string>(chunks.Count);
            foreach (var (chunk, index) in chunks.Select((c, i) => (c, i)))
            {
                var body = JsonSerializer.SerializeToElement(new HeartbeatBody(facts, chunk, index + 1, chunks.Count), RelayJsonContext.Default.HeartbeatBody);
                if (events.TrySign(EventKinds.Heartbeat, body, sentAt) is not { } message)
                {
                    break;
                }

                signed.Add(message);
            }

            if (signed.Count == chunks.Count)
            {
                return signed;
            }

            if (size <= 1)
            {
                throw new InvalidOperationException("one container's report does not fit a queue message");
            }
        }
    }
}
