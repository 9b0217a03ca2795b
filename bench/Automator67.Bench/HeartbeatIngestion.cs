using System.Diagnostics;
using System.Text.Json;
using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Azure.Storage.Queues;
using Npgsql;

namespace Automator67.Bench;

/// <summary>Heartbeats applied by the control plane's events consumer, beside what the same messages cost without it.</summary>
public sealed record IngestionResult(int Events, int Applied, double EventsPerSecond, double RawEnqueuePerSecond, double RawDequeuePerSecond,
    double SignMs, double VerifyMs, double ControlPlaneCpuMs, double? DatabaseCpuMs);

/// <summary>
/// <see cref="Beats"/> heartbeats for each of the first <see cref="SweepData.SignedNodes"/> nodes, each carrying the
/// node's inventory (its 5 containers, with stats), in an envelope signed with the node's key by the product's own
/// <c>Jws.Sign</c> (what the relay uses). Baselines first, in the bench: signing and verifying them (<c>Jws.Verify</c>
/// with the key imported from its SubjectPublicKeyInfo per message, as <c>RelayEventProcessor</c> does), then the raw
/// queue: the same messages sent to a queue of the run's own by 16 senders, then received 32 at a time and deleted 8
/// at a time (the consumer's batch and concurrency), with no control plane. Then the product: the messages go to the
/// control plane's events queue made invisible until one common instant, so the consumer finds the whole backlog at
/// once; the rate is the events applied over the product's own clock, first to last <c>relay_seen_events.seen_at</c>.
/// </summary>
public static class HeartbeatIngestion
{
    public const int Beats = 2;
    const int Senders = 16;

    public static async Task<IngestionResult> RunAsync(BenchSettings settings, NpgsqlDataSource db, SweepData data, ControlPlaneProcess controlPlane,
        DatabaseCpu databaseCpu, CancellationToken ct)
    {
        var inventories = await InventoriesAsync(db, ct);
        var clock = Stopwatch.GetTimestamp();
        var messages = new List<string>(SweepData.SignedNodes * Beats);
        for (var beat = 0; beat < Beats; beat++)
        {
            for (var n = 0; n < SweepData.SignedNodes; n++)
            {
                messages.Add(Sign(data.NodeIds[n], data.Keys[n], inventories[data.NodeIds[n]], beat));
            }
        }

        var signMs = Stopwatch.GetElapsedTime(clock).TotalMilliseconds / messages.Count;
        var verifyMs = Verify(messages, data);

        var service = new QueueServiceClient(settings.Storage);
        var raw = service.GetQueueClient($"{settings.QueuePrefix}-raw-heartbeats");
        await raw.CreateIfNotExistsAsync(cancellationToken: ct);
        clock = Stopwatch.GetTimestamp();
        await SendAsync(raw, messages, _ => null, ct);
        var enqueueSeconds = Stopwatch.GetElapsedTime(clock).TotalSeconds;
        var dequeueSeconds = await DrainAsync(raw, ct);

        // The whole backlog becomes visible at once, well after the last send: 3× the raw enqueue time, and 5 s more.
        var events = service.GetQueueClient(QueueNames.RelayEvents(settings.QueuePrefix));
        await events.CreateIfNotExistsAsync(cancellationToken: ct);
        var visibleAt = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(3 * enqueueSeconds + 5);
        await SendAsync(events, messages, _ => visibleAt - DateTimeOffset.UtcNow, ct);
        while (DateTimeOffset.UtcNow < visibleAt)
        {
            await Task.Delay(50, ct);
        }

        var cpu = controlPlane.CpuTime;
        var dbCpu = await databaseCpu.ReadAsync(ct);
        var signed = data.NodeIds.Take(SweepData.SignedNodes).ToArray();
        var applied = 0;
        for (var waited = Stopwatch.GetTimestamp(); applied < messages.Count && Stopwatch.GetElapsedTime(waited) < TimeSpan.FromMinutes(5);)
        {
            await Task.Delay(200, ct);
            applied = await CountAsync(db, signed, ct);
        }

        var cpuMs = (controlPlane.CpuTime - cpu).TotalMilliseconds;
        var dbTicks = DatabaseCpu.Used(dbCpu, await databaseCpu.ReadAsync(ct));
        await using var span = db.CreateCommand("SELECT extract(epoch FROM max(seen_at) - min(seen_at))::float8 FROM a67.relay_seen_events WHERE node_id = ANY($1)");
        span.Parameters.Add(new NpgsqlParameter { Value = signed });
        var seconds = await span.ExecuteScalarAsync(ct) is double s ? s : double.NaN;
        return new IngestionResult(messages.Count, applied, (applied - 1) / seconds, messages.Count / enqueueSeconds, messages.Count / dequeueSeconds,
            signMs, verifyMs, cpuMs / Math.Max(1, applied), dbTicks is { } ticks ? ticks * 10.0 / Math.Max(1, applied) : null);
    }

    static string Sign(Guid nodeId, System.Security.Cryptography.ECDsa key, IReadOnlyList<ContainerReport> containers, int beat)
    {
        var measured = containers.Select((c, i) => c with { Stats = new ContainerStats(1.5 + i, 40L << 20, 256L << 20, 1000L * beat, 2000L * beat) }).ToList();
        var body = JsonSerializer.SerializeToElement(new HeartbeatBody(SweepData.HostFacts, measured) { HeartbeatId = Guid.NewGuid() }, RelayJsonContext.Default.HeartbeatBody);
        var envelope = new EventEnvelope(nodeId, Guid.NewGuid(), DateTimeOffset.UtcNow, EventKinds.Heartbeat, body);
        return Jws.Sign(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.EventEnvelope), key, nodeId.ToString(), MessageTypes.Event);
    }

    /// <summary>Milliseconds per message to verify it as the consumer does, on one thread.</summary>
    static double Verify(List<string> messages, SweepData data)
    {
        var publicKeys = data.Keys.Select(k => k.ExportSubjectPublicKeyInfo()).ToArray();
        var clock = Stopwatch.GetTimestamp();
        for (var i = 0; i < messages.Count; i++)
        {
            using var key = System.Security.Cryptography.ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(publicKeys[i % SweepData.SignedNodes], out _);
            var (_, _, problem) = Jws.Verify(messages[i], MessageTypes.Event, _ => key);
            if (problem is not null)
            {
                throw new InvalidOperationException($"a heartbeat the bench signed does not verify: {problem}");
            }
        }

        return Stopwatch.GetElapsedTime(clock).TotalMilliseconds / messages.Count;
    }

    static async Task SendAsync(QueueClient queue, List<string> messages, Func<int, TimeSpan?> visibility, CancellationToken ct)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Senders).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < messages.Count;)
            {
                await queue.SendMessageAsync(messages[i], visibility(i), timeToLive: null, ct);
            }
        }));
    }

    /// <returns>Seconds to receive and delete every message, as the consumer does but applying nothing.</returns>
    static async Task<double> DrainAsync(QueueClient queue, CancellationToken ct)
    {
        var clock = Stopwatch.GetTimestamp();
        while (true)
        {
            var batch = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(60), ct)).Value;
            if (batch.Length == 0)
            {
                return Stopwatch.GetElapsedTime(clock).TotalSeconds;
            }

            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
                async (message, token) => await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, token));
        }
    }

    static async Task<Dictionary<Guid, IReadOnlyList<ContainerReport>>> InventoriesAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var command = db.CreateCommand("SELECT node_id, containers::text FROM a67.node_inventory");
        var inventories = new Dictionary<Guid, IReadOnlyList<ContainerReport>>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            inventories[reader.GetGuid(0)] = JsonSerializer.Deserialize(reader.GetString(1), RelayJsonContext.Default.IReadOnlyListContainerReport) ?? [];
        }

        return inventories;
    }

    /// <summary>Events of these nodes applied so far (other scenarios' relays may have written their own).</summary>
    static async Task<int> CountAsync(NpgsqlDataSource db, Guid[] nodes, CancellationToken ct)
    {
        await using var command = db.CreateCommand("SELECT count(*) FROM a67.relay_seen_events WHERE node_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = nodes });
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
