using System.Globalization;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Events;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Relay;
using Hangfire;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using static Automator67.Functions.Database.DbParameters;

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
/// Nodes are reconciled <see cref="NodesPerTransaction"/> at a time, one transaction and a handful of statements per
/// batch; what is decided per node, and the order of its events and commands, is the same as node by node.
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

    /// <summary>
    /// One transaction per node cost a dozen round trips per node: 16 s for 10,000 nodes, longer than the sweep's own
    /// interval (docs/benchmarks.md). A batch holds its apps' locks longer instead: a few hundred apps, for the
    /// milliseconds its few statements take.
    /// </summary>
    const int NodesPerTransaction = 200;

    sealed record NodeInventory(Guid Id, Guid AccountId, string Name, DateTimeOffset SentAt, IReadOnlyList<ContainerReport> Containers);

    /// <summary>One node's share of a batch: its replicas, and what the sweep decided for it, in the order decided.</summary>
    sealed class NodeWork(NodeInventory node, List<Replica> replicas)
    {
        public NodeInventory Node { get; } = node;
        public List<Replica> Replicas { get; } = replicas;
        public List<ContainerReport> Orphans { get; } = [];
        public List<CommandRequest> Requests { get; } = [];
        public List<AppEvent> Events { get; } = [];
    }

    sealed class Replica
    {
        public required Guid NodeId { get; init; }
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
        foreach (var batch in nodes.Chunk(NodesPerTransaction))
        {
            await ReconcileBatchAsync(batch, outcome, ct);
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
        return await command.ReadAllAsync(reader => reader.GetGuid(0), ct);
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
        return await command.ReadAllAsync(reader => new NodeInventory(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
            JsonSerializer.Deserialize(reader.GetString(4), RelayJsonContext.Default.IReadOnlyListContainerReport) ?? []), ct);
    }

    async Task ReconcileBatchAsync(NodeInventory[] batch, Outcome outcome, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var sweep = options.Value;
        IReadOnlyList<SignedCommand> signed;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            var present = await LockAsync(connection, transaction, batch.Select(n => n.Id).ToArray(), ct);
            var replicas = (await ReplicasAsync(connection, transaction, present, ct)).ToLookup(r => r.NodeId);
            var work = batch.Where(n => present.Contains(n.Id)).Select(n => new NodeWork(n, [.. replicas[n.Id]])).ToList();
            foreach (var node in work)
            {
                ReconcileNode(node, now, sweep, outcome);
            }

            await OrphansAsync(connection, transaction, work, now, sweep, outcome, ct);
            await SaveAsync(connection, transaction, work.SelectMany(w => w.Replicas).Where(r => r.Changed), now, ct);
            await EventLog.WriteAllAsync(connection, transaction, work.SelectMany(w => w.Events), ct);
            signed = await commands.RecordAsync(connection, transaction, [.. work.SelectMany(w => w.Requests)], ct);
            await transaction.CommitAsync(ct);
        }

        await commands.EnqueueAsync(signed, ct);
    }

    /// <summary>
    /// Holds the batch's nodes (a node deleted meanwhile is left out; one cannot be deleted until the commit) and locks
    /// the apps with replicas on them, in id order, so no operation starts on them meanwhile; those with one under way
    /// are its business, not the sweep's. Returns the nodes still there.
    /// </summary>
    static async Task<Guid[]> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] nodes, CancellationToken ct)
    {
        Guid[] present;
        await using (var lockNodes = new NpgsqlCommand("SELECT id FROM a67.nodes WHERE id = ANY(@nodes) ORDER BY id FOR KEY SHARE", connection, transaction))
        {
            lockNodes.Parameters.AddWithValue("nodes", nodes);
            present = [.. await lockNodes.ReadAllAsync(reader => reader.GetGuid(0), ct)];
        }

        await using var lockApps = new NpgsqlCommand("""
            SELECT id FROM a67.apps WHERE id IN (SELECT app_id FROM a67.replicas WHERE node_id = ANY(@nodes) AND state NOT IN ('Removed', 'Failed')) ORDER BY id FOR UPDATE
            """, connection, transaction);
        lockApps.Parameters.AddWithValue("nodes", present);
        await lockApps.ExecuteNonQueryAsync(ct);
        return present;
    }

    /// <summary>Fences superseded placements, refreshes host ports, checks each healthy replica and collects the orphans.</summary>
    static void ReconcileNode(NodeWork work, DateTimeOffset now, SweepOptions sweep, Outcome outcome)
    {
        var node = work.Node;
        var byGeneration = work.Replicas.ToDictionary(r => r.Generation);
        var fenced = 0;
        foreach (var container in node.Containers)
        {
            if (container.Generation is { } generation && byGeneration.TryGetValue(generation, out var owner))
            {
                if (owner.State == ReplicaStates.Lost)
                {
                    // A placement superseded while its node was lost: its container goes now, whoever runs the replica instead.
                    work.Requests.Add(RemoveContainer(node.Id, container, $"fenced: replica {owner.Slot} of {owner.AppName} was placed again elsewhere"));
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

            // One report per container (a relay never repeats one; if it did, the orphan would be counted once).
            if (!work.Orphans.Exists(o => o.Id == container.Id))
            {
                work.Orphans.Add(container);
            }
        }

        foreach (var gone in work.Replicas.Where(r => r.State == ReplicaStates.Lost && !node.Containers.Any(c => c.Generation == r.Generation)))
        {
            // Lost, and its container is not there (any more): nothing is left to fence.
            gone.State = ReplicaStates.Removed;
            gone.Changed = true;
        }

        if (fenced > 0)
        {
            outcome.Fenced += fenced;
            work.Events.Add(new AppEvent(node.AccountId, now, EventTypes.NodeFenced, EventSeverities.Warning,
                $"node {node.Name}: {fenced} container{(fenced == 1 ? "" : "s")} of superseded placements removed (their replicas run elsewhere since the node was lost)",
                NodeId: node.Id, Detail: new Dictionary<string, object?> { ["containers"] = fenced }));
        }

        foreach (var replica in work.Replicas.Where(r => r.State == ReplicaStates.Healthy && !r.AppStopped && !r.AppBusy && r.CrashLoopingAt is null))
        {
            var container = node.Containers.FirstOrDefault(c => c.Generation == replica.Generation);
            CheckReplica(node, replica, container, now, sweep, work.Requests, work.Events, outcome);
        }
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

    /// <summary>
    /// Forgets the batch's orphans that are gone, records the new ones, and removes those past the grace period (again,
    /// if a removal sent a minute ago did not take): three statements for the whole batch.
    /// </summary>
    static async Task OrphansAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<NodeWork> work, DateTimeOffset now, SweepOptions sweep,
        Outcome outcome, CancellationToken ct)
    {
        var orphans = work.SelectMany(w => w.Orphans.Select(o => (Work: w, Container: o))).ToList();
        outcome.Orphans += orphans.Count;
        await using (var forget = new NpgsqlCommand("""
            DELETE FROM a67.orphan_containers o WHERE o.node_id = ANY(@nodes)
              AND NOT EXISTS (SELECT 1 FROM unnest(@orphanNodes, @orphanIds) AS s (node_id, container_id) WHERE s.node_id = o.node_id AND s.container_id = o.container_id)
            """, connection, transaction))
        {
            forget.Parameters.AddWithValue("nodes", work.Select(w => w.Node.Id).ToArray());
            forget.Parameters.AddWithValue("orphanNodes", orphans.Select(o => o.Work.Node.Id).ToArray());
            forget.Parameters.AddWithValue("orphanIds", orphans.Select(o => o.Container.Id).ToArray());
            await forget.ExecuteNonQueryAsync(ct);
        }

        if (orphans.Count == 0)
        {
            return;
        }

        var seen = new Dictionary<(Guid Node, string Container), (DateTimeOffset FirstSeen, DateTimeOffset? Sent)>();
        await using (var record = new NpgsqlCommand("""
            INSERT INTO a67.orphan_containers (node_id, container_id, app, generation, first_seen_at)
            SELECT s.node_id, s.container_id, s.app, s.generation, @now FROM unnest(@nodes, @ids, @apps, @generations) AS s (node_id, container_id, app, generation)
            ON CONFLICT (node_id, container_id) DO UPDATE SET app = excluded.app
            RETURNING node_id, container_id, first_seen_at, removal_sent_at
            """, connection, transaction))
        {
            record.Parameters.AddWithValue("nodes", orphans.Select(o => o.Work.Node.Id).ToArray());
            record.Parameters.AddWithValue("ids", orphans.Select(o => o.Container.Id).ToArray());
            record.Parameters.AddWithValue("apps", orphans.Select(o => o.Container.App).ToArray());
            record.Parameters.AddWithValue("generations", orphans.Select(o => o.Container.Generation).ToArray());
            record.Parameters.AddWithValue("now", now);
            await using var reader = await record.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                seen[(reader.GetGuid(0), reader.GetString(1))] = (reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset?>(3));
            }
        }

        var removed = new List<(Guid Node, string Container)>();
        foreach (var (node, orphan) in orphans)
        {
            var (firstSeen, sent) = seen[(node.Node.Id, orphan.Id)];
            if (now - firstSeen < sweep.OrphanGrace || (sent is { } last && now - last < ResendAfter))
            {
                continue;
            }

            node.Requests.Add(RemoveContainer(node.Node.Id, orphan, "no replica owns it"));
            removed.Add((node.Node.Id, orphan.Id));
            outcome.OrphansRemoved++;
            node.Events.Add(new AppEvent(node.Node.AccountId, now, EventTypes.ContainerOrphanRemoved, EventSeverities.Info,
                $"container {orphan.Name} on node {node.Node.Name} (labelled for app {orphan.App}, generation {orphan.Generation?.ToString(CultureInfo.InvariantCulture) ?? "none"}) belongs to no replica: removed after {Seconds(sweep.OrphanGrace)}",
                Guid.TryParseExact(orphan.App, "N", out var app) ? app : null, node.Node.Id,
                Detail: new Dictionary<string, object?> { ["containerId"] = orphan.Id, ["name"] = orphan.Name, ["generation"] = orphan.Generation, ["firstSeenAt"] = firstSeen }));
        }

        if (removed.Count > 0)
        {
            await using var mark = new NpgsqlCommand("""
                UPDATE a67.orphan_containers o SET removal_sent_at = @now
                FROM unnest(@nodes, @ids) AS s (node_id, container_id) WHERE o.node_id = s.node_id AND o.container_id = s.container_id
                """, connection, transaction);
            mark.Parameters.AddWithValue("nodes", removed.Select(r => r.Node).ToArray());
            mark.Parameters.AddWithValue("ids", removed.Select(r => r.Container).ToArray());
            mark.Parameters.AddWithValue("now", now);
            await mark.ExecuteNonQueryAsync(ct);
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

    static async Task<List<Replica>> ReplicasAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] nodes, CancellationToken ct)
    {
        // At most one operation per app is under way (operations_one_active), so the outer join adds no rows.
        await using var command = new NpgsqlCommand("""
            SELECT r.node_id, r.id, r.app_id, a.name, rel.number, r.slot, r.generation, r.state, r.healthy_at, r.crashes, r.first_crash_at, r.restart_count_seen,
                   r.restart_due_at, r.crashed_run_at, r.restart_sent_at, r.crash_looping_at, r.last_error, a.stopped, r.ports::text, o.id IS NOT NULL
            FROM a67.replicas r JOIN a67.apps a ON a.id = r.app_id JOIN a67.releases rel ON rel.id = r.release_id
            LEFT JOIN a67.operations o ON o.app_id = r.app_id AND o.status IN ('Pending', 'Running', 'RollingBack')
            WHERE r.node_id = ANY(@nodes) AND r.state NOT IN ('Removed', 'Failed')
            """, connection, transaction);
        command.Parameters.AddWithValue("nodes", nodes);
        return await command.ReadAllAsync(reader => new Replica
        {
            NodeId = reader.GetGuid(0),
            Id = reader.GetGuid(1),
            AppId = reader.GetGuid(2),
            AppName = reader.GetString(3),
            AppLabel = reader.GetGuid(2).ToString("N"),
            Release = reader.GetInt32(4),
            Slot = reader.GetInt32(5),
            Generation = reader.GetInt64(6),
            State = reader.GetString(7),
            HealthyAt = reader.GetFieldValue<DateTimeOffset?>(8),
            Crashes = reader.GetInt32(9),
            FirstCrashAt = reader.GetFieldValue<DateTimeOffset?>(10),
            RestartCountSeen = reader.GetFieldValue<int?>(11),
            RestartDueAt = reader.GetFieldValue<DateTimeOffset?>(12),
            CrashedRunAt = reader.GetFieldValue<DateTimeOffset?>(13),
            RestartSentAt = reader.GetFieldValue<DateTimeOffset?>(14),
            CrashLoopingAt = reader.GetFieldValue<DateTimeOffset?>(15),
            LastError = reader.IsDBNull(16) ? null : reader.GetString(16),
            AppStopped = reader.GetBoolean(17),
            Ports = JsonSerializer.Deserialize(reader.GetString(18), RelayJsonContext.Default.IReadOnlyListPortBinding) ?? [],
            AppBusy = reader.GetBoolean(19),
        }, ct);
    }

    /// <summary>Writes back the replicas the pass changed, in one round trip.</summary>
    static async Task SaveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<Replica> rows, DateTimeOffset now, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var row in rows)
        {
            var command = new NpgsqlBatchCommand("""
                UPDATE a67.replicas SET state = @state, crashes = @crashes, first_crash_at = @first, restart_count_seen = @seen, restart_due_at = @due,
                    crashed_run_at = @run, restart_sent_at = @sent, crash_looping_at = @looping, last_error = @error, ports = @ports::jsonb, updated_at = @now
                WHERE id = @id
                """);
            command.Parameters.AddWithValue("id", row.Id);
            command.Parameters.AddWithValue("state", row.State);
            command.Parameters.AddWithValue("crashes", row.Crashes);
            command.Parameters.Add(Nullable("first", NpgsqlDbType.TimestampTz, row.FirstCrashAt));
            command.Parameters.Add(Nullable("seen", NpgsqlDbType.Integer, row.RestartCountSeen));
            command.Parameters.Add(Nullable("due", NpgsqlDbType.TimestampTz, row.RestartDueAt));
            command.Parameters.Add(Nullable("run", NpgsqlDbType.TimestampTz, row.CrashedRunAt));
            command.Parameters.Add(Nullable("sent", NpgsqlDbType.TimestampTz, row.RestartSentAt));
            command.Parameters.Add(Nullable("looping", NpgsqlDbType.TimestampTz, row.CrashLoopingAt));
            command.Parameters.Add(Nullable("error", NpgsqlDbType.Text, row.LastError));
            command.Parameters.AddWithValue("ports", JsonSerializer.Serialize(row.Ports, RelayJsonContext.Default.IReadOnlyListPortBinding));
            command.Parameters.AddWithValue("now", now);
            batch.BatchCommands.Add(command);
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
    }

    [LoggerMessage(EventId = 1910, Level = LogLevel.Information, Message = "Reconcile: {Nodes} node(s); {Crashed} crash(es), {Restarted} restart(s), {CrashLooping} crash-looping, {Missing} missing, {Fenced} fenced, {Orphans} orphan(s) removed")]
    partial void LogReconciled(int nodes, int crashed, int restarted, int crashLooping, int missing, int fenced, int orphans);
}
