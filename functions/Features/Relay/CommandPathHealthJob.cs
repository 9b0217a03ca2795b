using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Nodes;
using Hangfire;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Relay;

/// <summary>
/// Command-path health, a recurring job every <see cref="NodeOptions.PingInterval"/> (one run per tick across
/// processes). Steps:
/// 1. expire commands that outlived their lifetime unanswered;
/// 2. ping each node that heartbeats, through its command queue: the ping is recorded with the node's
///    <c>last_ping_sent_at</c> (and <c>ping_outstanding_since</c>, unless one is outstanding already) in one
///    transaction, then enqueued; its result, applied by the events consumer, records the latency and clears the
///    outstanding mark. A node whose pings stay unanswered for two intervals shows Degraded;
/// 3. forget applied event ids older than <see cref="RelayEventProcessor.SeenRetention"/>.
/// Re-entrant: a second run in the same tick finds every node pinged half an interval ago and sends nothing.
/// </summary>
public sealed partial class CommandPathHealthJob(
    NpgsqlDataSource dataSource,
    CommandSender sender,
    IOptions<NodeOptions> options,
    TimeProvider time,
    ILogger<CommandPathHealthJob> logger)
{
    public const string RecurringJobId = "relay-command-path-health";
    const int PruneBatch = 10_000;

    static readonly JsonElement EmptyBody = JsonDocument.Parse("{}").RootElement;

    // The next tick does the same work: retrying a failed run would only pile up pings.
    [AutomaticRetry(Attempts = 0)]
    public async Task RunAsync(CancellationToken ct)
    {
        var expired = await ExpireCommandsAsync(ct);
        var pinged = await PingAsync(ct);
        var forgotten = await PruneSeenEventsAsync(ct);
        LogRan(pinged, expired, forgotten);
    }

    async Task<int> ExpireCommandsAsync(CancellationToken ct)
    {
        await using var expire = dataSource.CreateCommand(
            "UPDATE a67.relay_commands SET status = 'Expired', completed_at = @now WHERE status = 'Pending' AND expires_at < @now");
        expire.Parameters.AddWithValue("now", time.GetUtcNow());
        return await expire.ExecuteNonQueryAsync(ct);
    }

    async Task<int> PingAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var interval = options.Value.PingInterval;
        IReadOnlyList<SignedCommand> pings;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            var nodes = new List<Guid>();
            await using (var mark = new NpgsqlCommand("""
                UPDATE a67.nodes SET last_ping_sent_at = @now, ping_outstanding_since = coalesce(ping_outstanding_since, @now)
                WHERE last_heartbeat_at > @now - @stale AND (last_ping_sent_at IS NULL OR last_ping_sent_at <= @now - @half)
                RETURNING id
                """, connection, transaction))
            {
                mark.Parameters.AddWithValue("now", now);
                mark.Parameters.AddWithValue("stale", 3 * options.Value.HeartbeatInterval);
                mark.Parameters.AddWithValue("half", interval / 2);
                await using var reader = await mark.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    nodes.Add(reader.GetGuid(0));
                }
            }

            // A ping that waited two intervals is stale news: let the queue drop it.
            pings = await sender.RecordAsync(connection, transaction, [.. nodes.Select(n => new CommandRequest(n, CommandKinds.Ping, EmptyBody, Lifetime: 2 * interval))], ct);
            await transaction.CommitAsync(ct);
        }

        await sender.EnqueueAsync(pings, ct);
        return pings.Count;
    }

    async Task<int> PruneSeenEventsAsync(CancellationToken ct)
    {
        await using var prune = dataSource.CreateCommand("""
            DELETE FROM a67.relay_seen_events WHERE (node_id, event_id) IN (
                SELECT node_id, event_id FROM a67.relay_seen_events WHERE seen_at < @before LIMIT @batch)
            """);
        prune.Parameters.AddWithValue("before", time.GetUtcNow() - RelayEventProcessor.SeenRetention);
        prune.Parameters.AddWithValue("batch", PruneBatch);
        return await prune.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(EventId = 1630, Level = LogLevel.Debug, Message = "Command-path health: {Pinged} nodes pinged, {Expired} commands expired, {Forgotten} applied event ids forgotten")]
    partial void LogRan(int pinged, int expired, int forgotten);
}
