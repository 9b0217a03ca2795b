using System.Globalization;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Events;
using Automator67.Functions.Features.Nodes;
using Hangfire;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Sweeps;

/// <summary>
/// The health sweep (a recurring job, once per tick across processes): a node whose heartbeats are late by more than
/// three intervals is Unreachable; one still silent after its grace (<see cref="NodeOptions.LostAfter"/>, or the
/// node's own) is Lost, its replicas are marked Lost and put back elsewhere by heal operations. A node that beats again
/// is back (its superseded containers are fenced by the reconcile sweep, which sees its inventory). When more than half
/// of the nodes are silent at once, the likelier cause is the control plane's own network: nodes still go Unreachable,
/// but none is declared Lost (nothing is rescheduled) until enough of them are heard again.
/// Each change is a conditional update, so a sweep that runs twice (or late) changes nothing twice.
/// </summary>
public sealed partial class HealthSweep(
    NpgsqlDataSource dataSource,
    AppHealer healer,
    IOptions<NodeOptions> nodeOptions,
    TimeProvider time,
    ILogger<HealthSweep> logger)
{
    public const string JobId = "sweep-health";

    sealed record NodeHealth(Guid Id, Guid AccountId, string Name, DateTimeOffset LastHeartbeatAt, DateTimeOffset? UnreachableAt, DateTimeOffset? LostAt,
        TimeSpan LostAfter);

    [DisableConcurrentExecution(60)]
    public async Task RunAsync(CancellationToken ct)
    {
        var startedAt = time.GetUtcNow();
        var started = time.GetTimestamp();
        var now = startedAt;
        var late = now - 3 * nodeOptions.Value.HeartbeatInterval;
        var nodes = await NodesAsync(ct);
        var silent = nodes.Where(n => n.LastHeartbeatAt < late).ToList();
        var paused = nodes.Count >= 2 && silent.Count * 2 > nodes.Count;
        await PauseAsync(paused, nodes.Count, silent, now, ct);

        int unreachable = 0, lost = 0, back = 0;
        var heal = new HashSet<Guid>();
        foreach (var node in nodes)
        {
            if (node.LastHeartbeatAt >= late)
            {
                back += node.UnreachableAt is not null && await BackAsync(node, now, late, ct) ? 1 : 0;
                continue;
            }

            unreachable += node.UnreachableAt is null && await UnreachableAsync(node, now, late, ct) ? 1 : 0;
            if (node.LostAt is null && !paused && now - node.LastHeartbeatAt > node.LostAfter && await LostAsync(node, now, ct) is { } apps)
            {
                lost++;
                heal.UnionWith(apps);
            }
        }

        foreach (var app in heal)
        {
            await healer.HealAsync(app, "replicas lost with their node", ct);
        }

        var duration = time.GetElapsedTime(started);
        await SweepRuns.RecordAsync(dataSource, "health", startedAt, duration, new Dictionary<string, object?>
        {
            ["nodes"] = nodes.Count, ["silent"] = silent.Count, ["paused"] = paused, ["unreachable"] = unreachable, ["lost"] = lost, ["back"] = back,
            ["healed"] = heal.Count,
        }, ct);
        if (unreachable + lost + back > 0 || paused)
        {
            LogSwept(nodes.Count, silent.Count, unreachable, lost, back, paused);
        }
    }

    async Task<List<NodeHealth>> NodesAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, account_id, name, last_heartbeat_at, unreachable_at, lost_at, lost_after_seconds FROM a67.nodes WHERE last_heartbeat_at IS NOT NULL
            """);
        return await command.ReadAllAsync(reader => new NodeHealth(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
            reader.IsDBNull(6) ? nodeOptions.Value.LostAfter : TimeSpan.FromSeconds(reader.GetInt32(6))), ct);
    }

    /// <summary>Enters or leaves the pause; entering it tells every account with a silent node (once per pause).</summary>
    async Task PauseAsync(bool paused, int total, List<NodeHealth> silent, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var state = new NpgsqlCommand("""
            INSERT INTO a67.sweep_state (sweep, paused_since, last_run_at) VALUES ('health', CASE WHEN @paused THEN @now END, @now)
            ON CONFLICT (sweep) DO UPDATE SET last_run_at = @now,
                paused_since = CASE WHEN @paused THEN coalesce(a67.sweep_state.paused_since, @now) END
            RETURNING paused_since = @now
            """, connection, transaction);
        state.Parameters.AddWithValue("paused", paused);
        state.Parameters.AddWithValue("now", now);
        var entered = await state.ExecuteScalarAsync(ct) is true;
        if (entered)
        {
            LogPaused(silent.Count, total);
            foreach (var account in silent.GroupBy(n => n.AccountId))
            {
                await EventLog.WriteAsync(connection, transaction, new AppEvent(account.Key, now, EventTypes.ReschedulingPaused, EventSeverities.Critical,
                    $"{silent.Count} of {total} nodes went silent at once (yours: {string.Join(", ", account.Select(n => n.Name))}): more likely the control plane's own network than the nodes, so no node is declared Lost and nothing is rescheduled until more than half are heard again",
                    Detail: new Dictionary<string, object?> { ["silent"] = silent.Count, ["nodes"] = total }), ct);
            }
        }

        await transaction.CommitAsync(ct);
    }

    async Task<bool> UnreachableAsync(NodeHealth node, DateTimeOffset now, DateTimeOffset late, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var mark = new NpgsqlCommand("""
            UPDATE a67.nodes SET unreachable_at = @now WHERE id = @id AND unreachable_at IS NULL AND last_heartbeat_at < @late
            """, connection, transaction);
        mark.Parameters.AddWithValue("id", node.Id);
        mark.Parameters.AddWithValue("now", now);
        mark.Parameters.AddWithValue("late", late);
        if (await mark.ExecuteNonQueryAsync(ct) == 0)
        {
            return false;
        }

        await EventLog.WriteAsync(connection, transaction, new AppEvent(node.AccountId, now, EventTypes.NodeUnreachable, EventSeverities.Warning,
            $"node {node.Name} is unreachable: no heartbeat since {node.LastHeartbeatAt:O}; its replicas are rescheduled if it stays silent for {Describe(node.LostAfter)}",
            NodeId: node.Id, Detail: new Dictionary<string, object?> { ["lastHeartbeatAt"] = node.LastHeartbeatAt, ["lostAfterSeconds"] = (int)node.LostAfter.TotalSeconds }), ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <returns>The apps that lost replicas (to heal), or null when the node was not declared Lost by this call.</returns>
    async Task<IReadOnlyCollection<Guid>?> LostAsync(NodeHealth node, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var mark = new NpgsqlCommand("""
            UPDATE a67.nodes SET lost_at = @now, unreachable_at = coalesce(unreachable_at, @now)
            WHERE id = @id AND lost_at IS NULL AND last_heartbeat_at < @silentSince
            """, connection, transaction))
        {
            mark.Parameters.AddWithValue("id", node.Id);
            mark.Parameters.AddWithValue("now", now);
            mark.Parameters.AddWithValue("silentSince", now - node.LostAfter);
            if (await mark.ExecuteNonQueryAsync(ct) == 0)
            {
                return null;
            }
        }

        // The active operations of the apps with replicas there are locked first: an advance under way writes its
        // replicas back, and must not write over what this marks (it sees them Lost on its next advance instead).
        await using (var lockOperations = new NpgsqlCommand("""
            SELECT o.id FROM a67.operations o
            WHERE o.status IN ('Pending', 'Running', 'RollingBack')
              AND o.app_id IN (SELECT app_id FROM a67.replicas WHERE node_id = @node AND state NOT IN ('Removed', 'Failed', 'Lost'))
            ORDER BY o.id FOR UPDATE
            """, connection, transaction))
        {
            lockOperations.Parameters.AddWithValue("node", node.Id);
            await lockOperations.ExecuteNonQueryAsync(ct);
        }

        var lost = new List<(Guid Id, Guid App, string AppName, int Release, int Slot, long Generation)>();
        await using (var replicas = new NpgsqlCommand("""
            UPDATE a67.replicas r SET state = 'Lost', last_error = @why, command_id = NULL, next_at = NULL, updated_at = @now
            FROM a67.apps a, a67.releases rel
            WHERE r.node_id = @node AND r.state NOT IN ('Removed', 'Failed', 'Lost') AND a.id = r.app_id AND rel.id = r.release_id
            RETURNING r.id, r.app_id, a.name, rel.number, r.slot, r.generation
            """, connection, transaction))
        {
            replicas.Parameters.AddWithValue("node", node.Id);
            replicas.Parameters.AddWithValue("now", now);
            replicas.Parameters.AddWithValue("why", $"node {node.Name} lost (no heartbeat since {node.LastHeartbeatAt:O})");
            await using var reader = await replicas.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                lost.Add((reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt64(5)));
            }
        }

        await EventLog.WriteAsync(connection, transaction, new AppEvent(node.AccountId, now, EventTypes.NodeLost, EventSeverities.Critical,
            $"node {node.Name} is lost: silent for more than {Describe(node.LostAfter)}; {lost.Count} replica{(lost.Count == 1 ? "" : "s")} rescheduled to other nodes",
            NodeId: node.Id, Detail: new Dictionary<string, object?> { ["lastHeartbeatAt"] = node.LastHeartbeatAt, ["replicas"] = lost.Count }), ct);
        foreach (var replica in lost)
        {
            await EventLog.WriteAsync(connection, transaction, new AppEvent(node.AccountId, now, EventTypes.ReplicaRescheduled, EventSeverities.Warning,
                $"replica {replica.Slot} of {replica.AppName} (release {replica.Release}) was on lost node {node.Name}: placed again elsewhere",
                replica.App, node.Id, ReplicaId: replica.Id,
                Detail: new Dictionary<string, object?> { ["slot"] = replica.Slot, ["release"] = replica.Release, ["generation"] = replica.Generation }), ct);
        }

        await transaction.CommitAsync(ct);
        LogLost(node.Name, lost.Count);
        return [.. lost.Select(r => r.App).Distinct()];
    }

    async Task<bool> BackAsync(NodeHealth node, DateTimeOffset now, DateTimeOffset late, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var mark = new NpgsqlCommand("""
            UPDATE a67.nodes SET unreachable_at = NULL, lost_at = NULL WHERE id = @id AND unreachable_at IS NOT NULL AND last_heartbeat_at >= @late
            RETURNING (SELECT count(*) FROM a67.replicas WHERE node_id = @id AND state = 'Lost')
            """, connection, transaction);
        mark.Parameters.AddWithValue("id", node.Id);
        mark.Parameters.AddWithValue("late", late);
        if (await mark.ExecuteScalarAsync(ct) is not long superseded)
        {
            return false;
        }

        await EventLog.WriteAsync(connection, transaction, new AppEvent(node.AccountId, now, EventTypes.NodeBack, EventSeverities.Info,
            node.LostAt is null
                ? $"node {node.Name} is back: heartbeats again after {Describe(node.LastHeartbeatAt - (node.UnreachableAt ?? node.LastHeartbeatAt))} unreachable"
                : $"node {node.Name} is back after it was lost; {superseded} superseded replica{(superseded == 1 ? "" : "s")} on it will be fenced (their containers removed)",
            NodeId: node.Id, Detail: new Dictionary<string, object?> { ["wasLost"] = node.LostAt is not null, ["superseded"] = superseded }), ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    static string Describe(TimeSpan span) => span.TotalSeconds < 120
        ? $"{span.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s"
        : $"{span.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture)} min";

    [LoggerMessage(EventId = 1900, Level = LogLevel.Information, Message = "Health sweep: {Nodes} node(s), {Silent} silent; {Unreachable} now unreachable, {Lost} lost, {Back} back; paused {Paused}")]
    partial void LogSwept(int nodes, int silent, int unreachable, int lost, int back, bool paused);

    [LoggerMessage(EventId = 1901, Level = LogLevel.Warning, Message = "Node {Node} is lost; {Replicas} replica(s) rescheduled")]
    partial void LogLost(string node, int replicas);

    [LoggerMessage(EventId = 1902, Level = LogLevel.Error, Message = "{Silent} of {Nodes} nodes went silent at once: rescheduling paused (the control plane's own network is the likelier cause)")]
    partial void LogPaused(int silent, int nodes);
}
