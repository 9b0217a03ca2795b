using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Nodes;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Relay;

/// <summary>What applying a verified event led to.</summary>
public enum ApplyResult
{
    Applied,
    /// <summary>The event id was applied before: at-least-once delivery brought it again; nothing changed.</summary>
    Duplicate,
    /// <summary>The node was deleted after the event was verified; nothing changed.</summary>
    NodeGone,
    /// <summary>A result for a command that was not sent to this node; nothing changed.</summary>
    NotThisNodesCommand,
}

/// <summary>
/// Applies verified events, each in one transaction together with its event id in <c>a67.relay_seen_events</c>, so a
/// redelivered message changes nothing. Events of one node serialise on the node's row.
/// </summary>
public sealed class RelayEventStore(NpgsqlDataSource dataSource, IOptions<NodeOptions> options, TimeProvider time)
{
    /// <summary>
    /// Last heartbeat (the queue's insertion time, never later than now: neither the relay's clock nor a backlog
    /// decides liveness), facts, stats rows, and the inventory once every part of the heartbeat is in. An older
    /// heartbeat, delivered late, never replaces a newer inventory.
    /// </summary>
    public async Task<ApplyResult> ApplyHeartbeatAsync(EventEnvelope envelope, HeartbeatBody heartbeat, DateTimeOffset beatAt, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var node = new NpgsqlCommand("""
            UPDATE a67.nodes SET
                facts = CASE WHEN last_heartbeat_at IS NULL OR @at >= last_heartbeat_at THEN @facts ELSE facts END,
                -- back from Unreachable: pings sent while it was away say nothing about its command path now
                ping_outstanding_since = CASE WHEN last_heartbeat_at IS NULL OR last_heartbeat_at < @at - @stale THEN NULL ELSE ping_outstanding_since END,
                last_heartbeat_at = greatest(last_heartbeat_at, @at)
            WHERE id = @node
            RETURNING account_id
            """, connection, transaction))
        {
            node.Parameters.AddWithValue("node", envelope.NodeId);
            node.Parameters.AddWithValue("at", beatAt);
            node.Parameters.AddWithValue("stale", 3 * options.Value.HeartbeatInterval);
            node.Parameters.Add(new NpgsqlParameter("facts", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(heartbeat.Facts, JsonSerializerOptions.Web) });
            if (await node.ExecuteScalarAsync(ct) is null)
            {
                return ApplyResult.NodeGone;
            }
        }

        if (!await MarkSeenAsync(connection, transaction, envelope, now, ct))
        {
            return ApplyResult.Duplicate;
        }

        await InsertStatsAsync(connection, transaction, envelope, heartbeat, ct);
        var containers = JsonSerializer.Serialize(heartbeat.Containers, RelayJsonContext.Default.IReadOnlyListContainerReport);
        if (heartbeat.Parts == 1)
        {
            await using var inventory = new NpgsqlCommand($"""
                {UpsertInventory} VALUES (@node, @sent, @now, @containers) {OnNewer};
                DELETE FROM a67.node_heartbeat_parts WHERE node_id = @node AND sent_at <= @sent;
                """, connection, transaction);
            inventory.Parameters.AddWithValue("node", envelope.NodeId);
            inventory.Parameters.AddWithValue("sent", envelope.SentAt);
            inventory.Parameters.AddWithValue("now", now);
            inventory.Parameters.Add(new NpgsqlParameter("containers", NpgsqlDbType.Jsonb) { Value = containers });
            await inventory.ExecuteNonQueryAsync(ct);
        }
        else
        {
            // Parts of one heartbeat wait here; the part that completes the set writes the inventory (the node row lock
            // taken above serialises them, and each statement sees the parts committed before it).
            await using var part = new NpgsqlCommand($"""
                INSERT INTO a67.node_heartbeat_parts (node_id, heartbeat_key, part, parts, sent_at, containers)
                VALUES (@node, @key, @part, @parts, @sent, @containers) ON CONFLICT DO NOTHING;
                {UpsertInventory}
                SELECT @node, max(p.sent_at), @now, coalesce((
                    SELECT jsonb_agg(c.value ORDER BY q.part, c.ordinality)
                    FROM a67.node_heartbeat_parts q, jsonb_array_elements(q.containers) WITH ORDINALITY c
                    WHERE q.node_id = @node AND q.heartbeat_key = @key), '[]')
                FROM a67.node_heartbeat_parts p WHERE p.node_id = @node AND p.heartbeat_key = @key
                HAVING count(*) = @parts
                {OnNewer};
                DELETE FROM a67.node_heartbeat_parts WHERE node_id = @node AND heartbeat_key = @key
                    AND (SELECT count(*) FROM a67.node_heartbeat_parts WHERE node_id = @node AND heartbeat_key = @key) = @parts;
                DELETE FROM a67.node_heartbeat_parts WHERE node_id = @node AND sent_at < @sent - interval '1 hour';
                """, connection, transaction);
            part.Parameters.AddWithValue("node", envelope.NodeId);
            part.Parameters.AddWithValue("key", heartbeat.HeartbeatId?.ToString() ?? envelope.SentAt.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            part.Parameters.AddWithValue("part", heartbeat.Part);
            part.Parameters.AddWithValue("parts", heartbeat.Parts);
            part.Parameters.AddWithValue("sent", envelope.SentAt);
            part.Parameters.AddWithValue("now", now);
            part.Parameters.Add(new NpgsqlParameter("containers", NpgsqlDbType.Jsonb) { Value = containers });
            await part.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        return ApplyResult.Applied;
    }

    /// <summary>
    /// Completes the command with the relay's result, if that command was sent to this node and is still open (a
    /// second result for it is kept out: the first one counts). An answered ping records the command path's latency.
    /// </summary>
    public async Task<(ApplyResult Result, CommandOutcome? Completed)> ApplyResultAsync(EventEnvelope envelope, CommandResult result, string status, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var node = new NpgsqlCommand("SELECT 1 FROM a67.nodes WHERE id = @node FOR KEY SHARE", connection, transaction))
        {
            node.Parameters.AddWithValue("node", envelope.NodeId);
            if (await node.ExecuteScalarAsync(ct) is null)
            {
                return (ApplyResult.NodeGone, null);
            }
        }

        if (!await MarkSeenAsync(connection, transaction, envelope, now, ct))
        {
            return (ApplyResult.Duplicate, null);
        }

        string kind, current;
        DateTimeOffset created;
        await using (var find = new NpgsqlCommand("SELECT node_id, kind, status, created_at FROM a67.relay_commands WHERE id = @id FOR UPDATE", connection, transaction))
        {
            find.Parameters.AddWithValue("id", result.CommandId);
            await using var reader = await find.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct) || reader.GetGuid(0) != envelope.NodeId)
            {
                return (ApplyResult.NotThisNodesCommand, null);
            }

            (kind, current, created) = (reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3));
        }

        // A result outranks our own guess (Expired), never another result.
        if (current is not (CommandStatuses.Pending or CommandStatuses.Expired))
        {
            await transaction.CommitAsync(ct);
            return (ApplyResult.Applied, null);
        }

        var latency = (int)Math.Clamp((now - created).TotalMilliseconds, 0, int.MaxValue);
        await using (var complete = new NpgsqlCommand("""
            UPDATE a67.relay_commands SET status = @status, result = @result, completed_at = @now WHERE id = @id;
            UPDATE a67.nodes SET last_ping_ok_at = @now, command_latency_ms = @latency, ping_outstanding_since = NULL WHERE id = @node AND @ping;
            """, connection, transaction))
        {
            complete.Parameters.AddWithValue("id", result.CommandId);
            complete.Parameters.AddWithValue("status", status);
            complete.Parameters.Add(new NpgsqlParameter("result", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(result, RelayJsonContext.Default.CommandResult) });
            complete.Parameters.AddWithValue("now", now);
            complete.Parameters.AddWithValue("node", envelope.NodeId);
            complete.Parameters.AddWithValue("latency", latency);
            complete.Parameters.AddWithValue("ping", kind == CommandKinds.Ping && status == CommandStatuses.Succeeded);
            await complete.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        return (ApplyResult.Applied, new CommandOutcome(result.CommandId, envelope.NodeId, kind, status, created, now, result));
    }

    const string UpsertInventory = "INSERT INTO a67.node_inventory (node_id, sent_at, received_at, containers)";

    const string OnNewer = """
        ON CONFLICT (node_id) DO UPDATE SET sent_at = EXCLUDED.sent_at, received_at = EXCLUDED.received_at, containers = EXCLUDED.containers
        WHERE a67.node_inventory.sent_at <= EXCLUDED.sent_at
        """;

    static async Task<bool> MarkSeenAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EventEnvelope envelope, DateTimeOffset now, CancellationToken ct)
    {
        await using var seen = new NpgsqlCommand(
            "INSERT INTO a67.relay_seen_events (node_id, event_id, seen_at) VALUES (@node, @event, @now) ON CONFLICT DO NOTHING", connection, transaction);
        seen.Parameters.AddWithValue("node", envelope.NodeId);
        seen.Parameters.AddWithValue("event", envelope.EventId);
        seen.Parameters.AddWithValue("now", now);
        return await seen.ExecuteNonQueryAsync(ct) == 1;
    }

    static async Task InsertStatsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EventEnvelope envelope, HeartbeatBody heartbeat, CancellationToken ct)
    {
        var measured = heartbeat.Containers.Where(c => c.Stats is not null).ToArray();
        if (measured.Length == 0)
        {
            return;
        }

        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.container_stats (node_id, container_id, app, release, replica, at, cpu_percent, memory_used, memory_limit, network_rx, network_tx,
                                             restart_count, started_at)
            SELECT @node, s.container, s.app, s.release, s.replica, @at, s.cpu, s.used, s.capacity, s.rx, s.tx, s.restarts, s.started
            FROM unnest(@containers, @apps, @releases, @replicas, @cpu, @used, @capacity, @rx, @tx, @restarts, @started)
                AS s (container, app, release, replica, cpu, used, capacity, rx, tx, restarts, started)
            """, connection, transaction);
        insert.Parameters.AddWithValue("node", envelope.NodeId);
        insert.Parameters.AddWithValue("at", envelope.SentAt);
        insert.Parameters.AddWithValue("containers", measured.Select(c => c.Id).ToArray());
        insert.Parameters.AddWithValue("apps", measured.Select(c => c.App).ToArray());
        insert.Parameters.AddWithValue("releases", measured.Select(c => c.Release).ToArray());
        insert.Parameters.AddWithValue("replicas", measured.Select(c => c.Replica).ToArray());
        insert.Parameters.AddWithValue("cpu", measured.Select(c => c.Stats!.CpuPercent).ToArray());
        insert.Parameters.AddWithValue("used", measured.Select(c => c.Stats!.MemoryUsedBytes).ToArray());
        insert.Parameters.AddWithValue("capacity", measured.Select(c => c.Stats!.MemoryLimitBytes).ToArray());
        insert.Parameters.AddWithValue("rx", measured.Select(c => c.Stats!.NetworkRxBytes).ToArray());
        insert.Parameters.AddWithValue("tx", measured.Select(c => c.Stats!.NetworkTxBytes).ToArray());
        // Restarts and counter resets, for the metrics rollup (a changed start time means the counters began again).
        insert.Parameters.AddWithValue("restarts", measured.Select(c => c.RestartCount).ToArray());
        insert.Parameters.Add(new NpgsqlParameter("started", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = measured.Select(c => c.StartedAt?.ToUniversalTime()).ToArray() });
        await insert.ExecuteNonQueryAsync(ct);
    }
}
