using System.Globalization;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Events;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Relay;
using Hangfire;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Sweeps;

/// <summary>
/// The reconcile sweep (a recurring job, once per tick across processes): the replicas the database says a node runs
/// against the inventory its relay last reported, node by node. A replica whose container exited is restarted after a
/// back-off (doubling per crash); one the Engine keeps restarting by its policy counts those restarts as crashes; too
/// many crashes in the window mark it crash-looping (no more restarts; the Engine's are stopped) and say so in the
/// event feed. A healthy replica whose container is gone is marked Failed and put back by a heal operation. A
/// container of a superseded placement (its replica Lost with its node) is fenced: removed at once. Any other labelled
/// container that no replica owns is removed after a grace period. Containers without Automator67's labels are never
/// in an inventory, and the relay refuses to remove one. Apps with an operation under way are left to it.
/// </summary>
public sealed partial class ReconcileSweep(
    NpgsqlDataSource dataSource,
    CommandSender commands,
    AppHealer healer,
    IOptions<SweepOptions> options,
    IOptions<NodeOptions> nodeOptions,
    TimeProvider time,
    ILogger<ReconcileSweep> logger)
{
    public const string JobId = "sweep-reconcile";

    static readonly TimeSpan ResendAfter = TimeSpan.FromMinutes(1);

    sealed record NodeInventory(Guid Id, Guid AccountId, string Name, DateTimeOffset SentAt, IReadOnlyList<ContainerReport> Containers);

    sealed class Replica
    {
        public required Guid Id { get; init; }
        public required Guid AppId { get; init; }
        public required string AppName { get; init; }
        public required string AppLabel { get; init; }
        public required int Release { get; init; }
        public required int Slot { get; init; }
        public required long Generation { get; init; }
        public required string State { get; set; }
        public DateTimeOffset? HealthyAt { get; init; }
        public required int Crashes { get; set; }
        public DateTimeOffset? FirstCrashAt { get; set; }
        public int? RestartCountSeen { get; set; }
        public DateTimeOffset? RestartDueAt { get; set; }
        public DateTimeOffset? CrashedRunAt { get; set; }
        public DateTimeOffset? RestartSentAt { get; set; }
        public DateTimeOffset? CrashLoopingAt { get; set; }
        public string? LastError { get; set; }
        public required IReadOnlyList<PortBinding> Ports { get; set; }
        public required bool AppStopped { get; init; }
        public required bool AppBusy { get; init; }
        public bool Changed { get; set; }
    }

    sealed class Outcome
    {
        public int Restarted { get; set; }
        public int Crashed { get; set; }
        public int CrashLooping { get; set; }
        public int Missing { get; set; }
        public int Fenced { get; set; }
        public int Orphans { get; set; }
        public int OrphansRemoved { get; set; }
        public HashSet<Guid> Heal { get; } = [];
    }

    [DisableConcurrentExecution(60)]
    public async Task RunAsync(CancellationToken ct)
    {
        var startedAt = time.GetUtcNow();
        var started = time.GetTimestamp();
        var outcome = new Outcome();
        var nodes = await InventoriesAsync(startedAt, ct);
        foreach (var node in nodes)
        {
            await ReconcileNodeAsync(node, outcome, ct);
        }

        foreach (var app in outcome.Heal)
        {
            await healer.HealAsync(app, "replicas gone from their nodes", ct);
        }

        // Apps still short of replicas with nothing under way (a heal that found no room, replicas lost while an
        // operation ran and failed): put back, no sooner than Sweeps__HealRetryDelay after the app's last operation ended.
        foreach (var app in await ShortAppsAsync(startedAt, ct))
        {
            if (outcome.Heal.Add(app))
            {
                await healer.HealAsync(app, "fewer replicas than desired", ct);
            }
        }

        var duration = time.GetElapsedTime(started);
        await SweepRuns.RecordAsync(dataSource, "reconcile", startedAt, duration, new Dictionary<string, object?>
        {
            ["nodes"] = nodes.Count, ["crashed"] = outcome.Crashed, ["restarted"] = outcome.Restarted, ["crashLooping"] = outcome.CrashLooping,
            ["missing"] = outcome.Missing, ["fenced"] = outcome.Fenced, ["orphans"] = outcome.Orphans, ["orphansRemoved"] = outcome.OrphansRemoved,
        }, ct);
        if (outcome.Crashed + outcome.Restarted + outcome.Missing + outcome.Fenced + outcome.OrphansRemoved > 0)
        {
            LogReconciled(nodes.Count, outcome.Crashed, outcome.Restarted, outcome.CrashLooping, outcome.Missing, outcome.Fenced, outcome.OrphansRemoved);
        }
    }

    async Task<List<Guid>> ShortAppsAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT a.id FROM a67.apps a
            WHERE NOT a.stopped AND a.current_release_id IS NOT NULL AND a.replicas > 0
              AND (SELECT count(*) FROM a67.replicas r WHERE r.app_id = a.id AND r.release_id = a.current_release_id
                     AND r.state NOT IN ('Removed', 'Failed', 'Lost')) < a.replicas
              AND NOT EXISTS (SELECT 1 FROM a67.operations o WHERE o.app_id = a.id
                     AND (o.status IN ('Pending', 'Running', 'RollingBack') OR o.finished_at > @recent))
            ORDER BY a.id LIMIT 100
            """);
        command.Parameters.AddWithValue("recent", now - options.Value.HealRetryDelay);
        var apps = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            apps.Add(reader.GetGuid(0));
        }

        return apps;
    }

    /// <summary>Nodes heard from lately, with their latest complete inventory (an older one says nothing about now).</summary>
    async Task<List<NodeInventory>> InventoriesAsync(DateTimeOffset now, CancellationToken ct)
    {
        var fresh = now - 3 * nodeOptions.Value.HeartbeatInterval;
        await using var command = dataSource.CreateCommand("""
            SELECT n.id, n.account_id, n.name, i.sent_at, i.containers::text FROM a67.nodes n JOIN a67.node_inventory i ON i.node_id = n.id
            WHERE n.last_heartbeat_at >= @fresh AND i.received_at >= @fresh
            ORDER BY n.id
            """);
        command.Parameters.AddWithValue("fresh", fresh);
        var nodes = new List<NodeInventory>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            nodes.Add(new NodeInventory(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                JsonSerializer.Deserialize(reader.GetString(4), RelayJsonContext.Default.IReadOnlyListContainerReport) ?? []));
        }

        return nodes;
    }

    async Task ReconcileNodeAsync(NodeInventory node, Outcome outcome, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var sweep = options.Value;
        var requests = new List<CommandRequest>();
        var events = new List<AppEvent>();
        IReadOnlyList<SignedCommand> signed;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            // The apps with replicas here are locked (in id order) so no operation starts on them meanwhile; those with one
            // under way are its business, not the sweep's.
            await using (var lockApps = new NpgsqlCommand("""
                SELECT id FROM a67.apps WHERE id IN (SELECT app_id FROM a67.replicas WHERE node_id = @node AND state NOT IN ('Removed', 'Failed')) ORDER BY id FOR UPDATE
                """, connection, transaction))
            {
                lockApps.Parameters.AddWithValue("node", node.Id);
                await lockApps.ExecuteNonQueryAsync(ct);
            }

            var replicas = await ReplicasAsync(connection, transaction, node.Id, ct);
            var byGeneration = replicas.ToDictionary(r => r.Generation);
            var orphans = new List<ContainerReport>();
            var fenced = 0;
            foreach (var container in node.Containers)
            {
                if (container.Generation is { } generation && byGeneration.TryGetValue(generation, out var owner))
                {
                    if (owner.State == ReplicaStates.Lost)
                    {
                        // A placement superseded while its node was lost: its container goes now, whoever runs the replica instead.
                        requests.Add(RemoveContainer(node.Id, container, $"fenced: replica {owner.Slot} of {owner.AppName} was placed again elsewhere"));
                        owner.State = ReplicaStates.Removed;
                        owner.LastError = $"fenced on node {node.Name}: superseded by a placement elsewhere";
                        owner.Changed = true;
                        fenced++;
                    }
                    else if (!owner.AppBusy && container.Ports is { } ports && !owner.Ports.SequenceEqual(ports))
                    {
                        // An automatic host port is chosen each time the container starts: after a restart, say where it is now.
                        owner.Ports = ports;
                        owner.Changed = true;
                    }

                    continue;
                }

                orphans.Add(container);
            }

            foreach (var gone in replicas.Where(r => r.State == ReplicaStates.Lost && !node.Containers.Any(c => c.Generation == r.Generation)))
            {
                // Lost, and its container is not there (any more): nothing is left to fence.
                gone.State = ReplicaStates.Removed;
                gone.Changed = true;
            }

            if (fenced > 0)
            {
                outcome.Fenced += fenced;
                events.Add(new AppEvent(node.AccountId, now, EventTypes.NodeFenced, EventSeverities.Warning,
                    $"node {node.Name}: {fenced} container{(fenced == 1 ? "" : "s")} of superseded placements removed (their replicas run elsewhere since the node was lost)",
                    NodeId: node.Id, Detail: new Dictionary<string, object?> { ["containers"] = fenced }));
            }

            foreach (var replica in replicas.Where(r => r.State == ReplicaStates.Healthy && !r.AppStopped && !r.AppBusy && r.CrashLoopingAt is null))
            {
                var container = node.Containers.FirstOrDefault(c => c.Generation == replica.Generation);
                CheckReplica(node, replica, container, now, sweep, requests, events, outcome);
            }

            await OrphansAsync(connection, transaction, node, orphans, now, sweep, requests, events, outcome, ct);
            await SaveAsync(connection, transaction, replicas.Where(r => r.Changed), now, ct);
            foreach (var e in events)
            {
                await EventLog.WriteAsync(connection, transaction, e, ct);
            }

            signed = await commands.RecordAsync(connection, transaction, requests, ct);
            await transaction.CommitAsync(ct);
        }

        await commands.EnqueueAsync(signed, ct);
    }

    static void CheckReplica(NodeInventory node, Replica replica, ContainerReport? container, DateTimeOffset now, SweepOptions sweep, List<CommandRequest> requests,
        List<AppEvent> events, Outcome outcome)
    {
        var what = $"replica {replica.Slot} of {replica.AppName} (release {replica.Release}) on node {node.Name}";
        if (container is null)
        {
            // Gone: put back once the inventory has had time to show it (a replica just made healthy may predate it).
            if (replica.HealthyAt is { } healthy && node.SentAt - healthy > sweep.MissingGrace)
            {
                replica.State = ReplicaStates.Failed;
                replica.LastError = $"its container is gone from node {node.Name}";
                replica.Changed = true;
                outcome.Missing++;
                outcome.Heal.Add(replica.AppId);
                events.Add(new AppEvent(node.AccountId, now, EventTypes.ReplicaRecreated, EventSeverities.Warning,
                    $"{what}: its container is gone; a heal operation places it again", replica.AppId, node.Id, ReplicaId: replica.Id,
                    Detail: Detail(replica)));
            }

            return;
        }

        var exited = container.State is "exited" or "dead";
        var byEngine = Math.Max(0, container.RestartCount - (replica.RestartCountSeen ?? container.RestartCount));
        // The run is known by its start time; PostgreSQL keeps microseconds, the Engine reports nanoseconds.
        var newExit = exited && container.StartedAt is { } run && !(replica.CrashedRunAt is { } counted && (run - counted).Duration() < TimeSpan.FromMilliseconds(1));
        if (replica.RestartCountSeen != container.RestartCount)
        {
            replica.RestartCountSeen = container.RestartCount;
            replica.Changed = true;
        }

        if (byEngine > 0 || newExit)
        {
            if (replica.FirstCrashAt is not { } first || now - first > sweep.CrashLoopWindow)
            {
                replica.Crashes = 0;
                replica.FirstCrashAt = now;
            }

            replica.Crashes += byEngine + (newExit ? 1 : 0);
            if (newExit)
            {
                replica.CrashedRunAt = container.StartedAt;
            }

            replica.Changed = true;
            outcome.Crashed++;
            var how = newExit ? $"its container exited (code {container.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown"})"
                : $"the Engine restarted its container {byEngine} time{(byEngine == 1 ? "" : "s")} (restart policy)";
            events.Add(new AppEvent(node.AccountId, now, EventTypes.ReplicaCrashed, EventSeverities.Warning,
                $"{what} crashed: {how}; {replica.Crashes} crash{(replica.Crashes == 1 ? "" : "es")} in {Minutes(sweep.CrashLoopWindow)}",
                replica.AppId, node.Id, ReplicaId: replica.Id, Detail: Detail(replica, container)));

            if (replica.Crashes >= sweep.CrashLoopCrashes)
            {
                replica.CrashLoopingAt = now;
                replica.RestartDueAt = null;
                replica.LastError = $"crash-looping: {replica.Crashes} crashes in {Minutes(sweep.CrashLoopWindow)}; not restarted again until an operation replaces it";
                outcome.CrashLooping++;
                events.Add(new AppEvent(node.AccountId, now, EventTypes.ReplicaCrashLooping, EventSeverities.Critical,
                    $"{what} is crash-looping ({replica.Crashes} crashes in {Minutes(sweep.CrashLoopWindow)}): it is not restarted again; deploy a fixed release or restart the app",
                    replica.AppId, node.Id, ReplicaId: replica.Id, Detail: Detail(replica, container)));
                if (!exited)
                {
                    // The Engine's own restart policy would go on forever: stop the container.
                    requests.Add(new CommandRequest(node.Id, CommandKinds.Stop,
                        JsonSerializer.SerializeToElement(new StopBody(Selector(replica), 0), RelayJsonContext.Default.StopBody)));
                }

                return;
            }

            if (newExit)
            {
                replica.RestartDueAt = now + sweep.RestartDelay(replica.Crashes);
            }
        }

        if (!exited)
        {
            if (replica.Crashes > 0 && replica.FirstCrashAt is { } since && now - since > sweep.CrashLoopWindow)
            {
                // Up for a whole window since its first crash: it starts afresh.
                replica.Crashes = 0;
                replica.FirstCrashAt = null;
                replica.Changed = true;
            }

            return;
        }

        var due = replica.RestartDueAt is { } at && at <= now;
        var resend = replica.RestartDueAt is null && replica.RestartSentAt is { } sent && now - sent > ResendAfter;
        if (due || resend)
        {
            requests.Add(new CommandRequest(node.Id, CommandKinds.Restart,
                JsonSerializer.SerializeToElement(new ReplicaBody(Selector(replica)), RelayJsonContext.Default.ReplicaBody)));
            replica.RestartDueAt = null;
            replica.RestartSentAt = now;
            replica.Changed = true;
            outcome.Restarted++;
            events.Add(new AppEvent(node.AccountId, now, EventTypes.ReplicaRestarted, EventSeverities.Info,
                $"{what} restarted{(resend ? " again (the last restart did not bring it up)" : $" after a back-off of {Seconds(sweep.RestartDelay(replica.Crashes))}")}",
                replica.AppId, node.Id, ReplicaId: replica.Id, Detail: Detail(replica, container)));
        }
    }

    static async Task OrphansAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, NodeInventory node, List<ContainerReport> orphans, DateTimeOffset now,
        SweepOptions sweep, List<CommandRequest> requests, List<AppEvent> events, Outcome outcome, CancellationToken ct)
    {
        outcome.Orphans += orphans.Count;
        await using (var forget = new NpgsqlCommand("DELETE FROM a67.orphan_containers WHERE node_id = @node AND NOT (container_id = ANY(@ids))", connection, transaction))
        {
            forget.Parameters.AddWithValue("node", node.Id);
            forget.Parameters.AddWithValue("ids", orphans.Select(o => o.Id).ToArray());
            await forget.ExecuteNonQueryAsync(ct);
        }

        foreach (var orphan in orphans)
        {
            await using var seen = new NpgsqlCommand("""
                INSERT INTO a67.orphan_containers (node_id, container_id, app, generation, first_seen_at) VALUES (@node, @id, @app, @generation, @now)
                ON CONFLICT (node_id, container_id) DO UPDATE SET app = excluded.app
                RETURNING first_seen_at, removal_sent_at
                """, connection, transaction);
            seen.Parameters.AddWithValue("node", node.Id);
            seen.Parameters.AddWithValue("id", orphan.Id);
            seen.Parameters.AddWithValue("app", orphan.App);
            seen.Parameters.AddWithValue("generation", (object?)orphan.Generation ?? DBNull.Value);
            seen.Parameters.AddWithValue("now", now);
            DateTimeOffset firstSeen;
            DateTimeOffset? sent;
            await using (var reader = await seen.ExecuteReaderAsync(ct))
            {
                await reader.ReadAsync(ct);
                firstSeen = reader.GetFieldValue<DateTimeOffset>(0);
                sent = reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1);
            }

            if (now - firstSeen < sweep.OrphanGrace || (sent is { } last && now - last < ResendAfter))
            {
                continue;
            }

            requests.Add(RemoveContainer(node.Id, orphan, "no replica owns it"));
            await using (var mark = new NpgsqlCommand("UPDATE a67.orphan_containers SET removal_sent_at = @now WHERE node_id = @node AND container_id = @id", connection, transaction))
            {
                mark.Parameters.AddWithValue("node", node.Id);
                mark.Parameters.AddWithValue("id", orphan.Id);
                mark.Parameters.AddWithValue("now", now);
                await mark.ExecuteNonQueryAsync(ct);
            }

            outcome.OrphansRemoved++;
            events.Add(new AppEvent(node.AccountId, now, EventTypes.ContainerOrphanRemoved, EventSeverities.Info,
                $"container {orphan.Name} on node {node.Name} (labelled for app {orphan.App}, generation {orphan.Generation?.ToString(CultureInfo.InvariantCulture) ?? "none"}) belongs to no replica: removed after {Seconds(sweep.OrphanGrace)}",
                Guid.TryParseExact(orphan.App, "N", out var app) ? app : null, node.Id,
                Detail: new Dictionary<string, object?> { ["containerId"] = orphan.Id, ["name"] = orphan.Name, ["generation"] = orphan.Generation, ["firstSeenAt"] = firstSeen }));
        }
    }

    static CommandRequest RemoveContainer(Guid nodeId, ContainerReport container, string reason) =>
        new(nodeId, CommandKinds.RemoveContainer,
            JsonSerializer.SerializeToElement(new RemoveContainerBody(container.Id, container.Generation, reason), RelayJsonContext.Default.RemoveContainerBody));

    static ReplicaSelector Selector(Replica replica) => new(replica.AppLabel, replica.Release.ToString(CultureInfo.InvariantCulture), replica.Slot);

    static Dictionary<string, object?> Detail(Replica replica, ContainerReport? container = null) => new()
    {
        ["slot"] = replica.Slot,
        ["release"] = replica.Release,
        ["generation"] = replica.Generation,
        ["crashes"] = replica.Crashes,
        ["containerId"] = container?.Id,
        ["state"] = container?.State,
        ["exitCode"] = container?.ExitCode,
        ["restartCount"] = container?.RestartCount,
    };

    static string Minutes(TimeSpan span) => span.TotalMinutes >= 1 ? $"{span.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture)} min" : Seconds(span);

    static string Seconds(TimeSpan span) => $"{span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";

    static async Task<List<Replica>> ReplicasAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid nodeId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT r.id, r.app_id, a.name, rel.number, r.slot, r.generation, r.state, r.healthy_at, r.crashes, r.first_crash_at, r.restart_count_seen,
                   r.restart_due_at, r.crashed_run_at, r.restart_sent_at, r.crash_looping_at, r.last_error, a.stopped, r.ports::text,
                   EXISTS (SELECT 1 FROM a67.operations o WHERE o.app_id = r.app_id AND o.status IN ('Pending', 'Running', 'RollingBack'))
            FROM a67.replicas r JOIN a67.apps a ON a.id = r.app_id JOIN a67.releases rel ON rel.id = r.release_id
            WHERE r.node_id = @node AND r.state NOT IN ('Removed', 'Failed')
            """, connection, transaction);
        command.Parameters.AddWithValue("node", nodeId);
        var rows = new List<Replica>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new Replica
            {
                Id = reader.GetGuid(0),
                AppId = reader.GetGuid(1),
                AppName = reader.GetString(2),
                AppLabel = reader.GetGuid(1).ToString("N"),
                Release = reader.GetInt32(3),
                Slot = reader.GetInt32(4),
                Generation = reader.GetInt64(5),
                State = reader.GetString(6),
                HealthyAt = Time(reader, 7),
                Crashes = reader.GetInt32(8),
                FirstCrashAt = Time(reader, 9),
                RestartCountSeen = reader.IsDBNull(10) ? null : reader.GetInt32(10),
                RestartDueAt = Time(reader, 11),
                CrashedRunAt = Time(reader, 12),
                RestartSentAt = Time(reader, 13),
                CrashLoopingAt = Time(reader, 14),
                LastError = reader.IsDBNull(15) ? null : reader.GetString(15),
                AppStopped = reader.GetBoolean(16),
                Ports = JsonSerializer.Deserialize(reader.GetString(17), RelayJsonContext.Default.IReadOnlyListPortBinding) ?? [],
                AppBusy = reader.GetBoolean(18),
            });
        }

        return rows;
    }

    static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);

    static async Task SaveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<Replica> rows, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var row in rows)
        {
            await using var command = new NpgsqlCommand("""
                UPDATE a67.replicas SET state = @state, crashes = @crashes, first_crash_at = @first, restart_count_seen = @seen, restart_due_at = @due,
                    crashed_run_at = @run, restart_sent_at = @sent, crash_looping_at = @looping, last_error = @error, ports = @ports::jsonb, updated_at = @now
                WHERE id = @id
                """, connection, transaction);
            command.Parameters.AddWithValue("id", row.Id);
            command.Parameters.AddWithValue("state", row.State);
            command.Parameters.AddWithValue("crashes", row.Crashes);
            command.Parameters.AddWithValue("first", (object?)row.FirstCrashAt ?? DBNull.Value);
            command.Parameters.AddWithValue("seen", (object?)row.RestartCountSeen ?? DBNull.Value);
            command.Parameters.AddWithValue("due", (object?)row.RestartDueAt ?? DBNull.Value);
            command.Parameters.AddWithValue("run", (object?)row.CrashedRunAt ?? DBNull.Value);
            command.Parameters.AddWithValue("sent", (object?)row.RestartSentAt ?? DBNull.Value);
            command.Parameters.AddWithValue("looping", (object?)row.CrashLoopingAt ?? DBNull.Value);
            command.Parameters.AddWithValue("error", (object?)row.LastError ?? DBNull.Value);
            command.Parameters.AddWithValue("ports", JsonSerializer.Serialize(row.Ports, RelayJsonContext.Default.IReadOnlyListPortBinding));
            command.Parameters.AddWithValue("now", now);
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    [LoggerMessage(EventId = 1910, Level = LogLevel.Information, Message = "Reconcile: {Nodes} node(s); {Crashed} crash(es), {Restarted} restart(s), {CrashLooping} crash-looping, {Missing} missing, {Fenced} fenced, {Orphans} orphan(s) removed")]
    partial void LogReconciled(int nodes, int crashed, int restarted, int crashLooping, int missing, int fenced, int orphans);
}
