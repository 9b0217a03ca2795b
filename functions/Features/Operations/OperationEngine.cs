using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Events;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Relay;
using Hangfire;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using static Automator67.Functions.Database.DbParameters;

namespace Automator67.Functions.Features.Operations;

/// <summary>
/// Advances one operation: takes its row lock (so two advances never run at once, in this process or another),
/// loads what the step machine needs, runs it, and writes back its progress, its history and the commands it sends
/// in one transaction. The commands are enqueued after the commit, and a wake-up is scheduled for when the operation
/// must look again if no result comes first. Re-entrant: an advance with nothing due changes nothing.
/// </summary>
public sealed partial class OperationEngine(
    NpgsqlDataSource dataSource,
    CommandSender commands,
    AuditLog audit,
    IBackgroundJobClient jobs,
    IOptions<OperationOptions> options,
    IOptions<NodeOptions> nodeOptions,
    Secrets.CommandSealer sealer,
    TimeProvider time,
    ILogger<OperationEngine> logger)
{
    const string ReplicaColumns = "id, app_id, release_id, slot, node_id, generation, state, operation_id, command_id, command_sent_at, attempts, probe_failures, " +
        "next_at, started_at, healthy_at, container_id, ports::text, last_error";

    public async Task AdvanceAsync(Guid operationId, CancellationToken ct)
    {
        // Placement reads the room on the account's nodes without a lock, and checks what it placed under the account's
        // placement lock before it commits. Another app's operation that placed on the same node in between shows up in
        // that check; then the advance runs once more, holding the lock from the start, so it sees a settled room.
        if (!await TryAdvanceAsync(operationId, placementLocked: false, ct))
        {
            await TryAdvanceAsync(operationId, placementLocked: true, ct);
        }
    }

    /// <summary>
    /// Takes the account's placement lock (until the transaction ends): placements of different apps on the same nodes
    /// check their room one after the other, so two of them never both take the last of a node's memory or its host port.
    /// </summary>
    public static async Task LockPlacementAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@class, hashtext(@account))", connection, transaction);
        command.Parameters.AddWithValue("class", PlacementLockClass);
        command.Parameters.AddWithValue("account", accountId.ToString("N"));
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The first key of the two-key advisory lock that guards an account's placements ("a67").</summary>
    const int PlacementLockClass = 0x613637;

    /// <returns>False when what this advance placed no longer fits (another placement won the room): nothing was written.</returns>
    async Task<bool> TryAdvanceAsync(Guid operationId, bool placementLocked, CancellationToken ct)
    {
        IReadOnlyList<SignedCommand> signed;
        DateTimeOffset? schedule = null;
        var again = false;
        string status;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            var op = await LockAsync(connection, transaction, operationId, ct);
            if (op is null || !OperationStatuses.IsActive(op.Status) || op.AppId is not { } appId)
            {
                return true;
            }

            if (placementLocked)
            {
                await LockPlacementAsync(connection, transaction, op.AccountId, ct);
            }

            var now = time.GetUtcNow();
            var replicas = await ReplicasAsync(connection, transaction, appId, ct);
            var pulls = await PullsAsync(connection, transaction, op.Id, ct);
            var releaseIds = replicas.Select(r => r.ReleaseId).Concat(pulls.Select(p => p.ReleaseId))
                .Concat(new[] { op.TargetReleaseId, op.FromReleaseId }.OfType<Guid>()).Distinct().ToArray();
            var commandIds = replicas.Select(r => r.CommandId).Concat(pulls.Select(p => p.CommandId)).OfType<Guid>().ToArray();
            var ctx = new AdvanceContext
            {
                Operation = op,
                AppLabel = appId.ToString("N"),
                Now = now,
                Options = options.Value,
                Replicas = replicas,
                Pulls = pulls,
                Commands = await CommandStatesAsync(connection, transaction, commandIds, ct),
                Releases = await ReleasesAsync(connection, transaction, releaseIds, ct),
                Nodes = await PlacementNodesAsync(connection, transaction, op.AccountId, appId, now, ct),
                NodeNames = await NodeNamesAsync(connection, transaction, op.AccountId, ct),
                Generations = await GenerationsAsync(connection, transaction, Math.Max(op.TargetReplicas, op.FromReplicas), ct),
            };

            var step = op.Step;
            ConvergeMachine.Advance(ctx);

            // Secrets go into the commands now, sealed per node. A command that cannot be built is recorded as failed
            // at once (never sent): the next advance sees the failure and retries or rolls back, with the reason.
            var prepared = await sealer.SealAsync(connection, transaction, op.AccountId, appId, ctx.Outgoing, ct);
            var sending = prepared.Where(p => p.Failure is null).ToList();
            signed = await commands.RecordAsync(connection, transaction, [.. sending.Select(p => p.Request)], ct);
            for (var i = 0; i < signed.Count; i++)
            {
                sending[i].Intent.Sent(signed[i].CommandId);
            }

            foreach (var unsent in prepared.Where(p => p.Failure is not null))
            {
                unsent.Intent.Sent(await commands.RecordUnsentAsync(connection, transaction, unsent.Request, unsent.Failure!, ct));
                again = true;
            }

            // Hangfire's scheduler works in whole seconds and may run a job up to a second before its time: the wake-up
            // goes at the next whole second, so it never comes before what it wakes for (and finds nothing due).
            if (op.WakeAt is { } wake && WholeSecondAfter(wake) is var wakeJobAt
                && (op.ScheduledWakeAt is not { } scheduled || wakeJobAt < scheduled || scheduled <= now))
            {
                op.ScheduledWakeAt = schedule = wakeJobAt;
            }

            await SaveReplicasAsync(connection, transaction, replicas.Where(r => r.Changed), ct);
            var placedOn = replicas.Where(r => r.IsNew).Select(r => r.NodeId).Distinct().ToArray();
            if (!placementLocked && placedOn.Length > 0)
            {
                await LockPlacementAsync(connection, transaction, op.AccountId, ct);
                if (await OvercommittedNodesAsync(connection, transaction, placedOn, ct) is { Count: > 0 } full)
                {
                    LogPlacementRace(op.Id, full);
                    await transaction.RollbackAsync(ct);
                    return false;
                }
            }

            await SavePullsAsync(connection, transaction, op.Id, pulls.Where(p => p.Changed), ct);
            await SaveOperationAsync(connection, transaction, op, now, ct);
            await OperationHistory.AppendAsync(connection, transaction, op.Id, ctx.History, ct);
            if (!OperationStatuses.IsActive(op.Status))
            {
                await EventLog.WriteAsync(connection, transaction, OperationEvents.Finished(op, ctx, now), ct);
            }

            if (ctx.AppRemoved)
            {
                await using var remove = new NpgsqlCommand("DELETE FROM a67.apps WHERE id = @id", connection, transaction);
                remove.Parameters.AddWithValue("id", appId);
                await remove.ExecuteNonQueryAsync(ct);
                // The request was audited as app.removal-requested (by whom, from where); this is when the app went.
                await audit.WriteAsync(connection, transaction, new AuditEvent(AuditTypes.AppDeleted, op.AccountId, op.AccountId, null, null,
                    new Dictionary<string, object?> { ["appId"] = appId, ["name"] = op.AppName, ["operationId"] = op.Id }), ct);
            }
            else if (ctx.AppReachedTarget)
            {
                await using var app = new NpgsqlCommand("UPDATE a67.apps SET current_release_id = @release, replicas = @replicas, stopped = @stopped WHERE id = @id",
                    connection, transaction);
                app.Parameters.Add(new NpgsqlParameter("release", NpgsqlDbType.Uuid) { Value = (object?)op.TargetReleaseId ?? DBNull.Value });
                app.Parameters.AddWithValue("replicas", op.TargetReleaseId is null ? 0 : op.TargetReplicas);
                app.Parameters.AddWithValue("stopped", ctx.AppStopped);
                app.Parameters.AddWithValue("id", appId);
                await app.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            status = op.Status;
            if (step != op.Step || !OperationStatuses.IsActive(op.Status))
            {
                LogAdvanced(op.Id, op.Kind, op.Status, op.Step, signed.Count);
            }
        }

        await commands.EnqueueAsync(signed, ct);
        if (again && OperationStatuses.IsActive(status))
        {
            jobs.Enqueue<OperationJobs>(j => j.AdvanceAsync(operationId, CancellationToken.None));
        }

        if (schedule is { } at && OperationStatuses.IsActive(status))
        {
            jobs.Schedule<OperationJobs>(j => j.AdvanceAsync(operationId, CancellationToken.None), at);
        }

        return true;
    }

    /// <summary>
    /// The names of the given nodes whose live replicas (committed, and this transaction's own) reserve more CPU or memory
    /// than the node has, or hold one fixed host port twice.
    /// </summary>
    public static async Task<List<string>> OvercommittedNodesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] nodeIds, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            WITH live AS (
                SELECT r.node_id, rel.spec
                FROM a67.replicas r JOIN a67.releases rel ON rel.id = r.release_id
                WHERE r.node_id = ANY(@nodes) AND r.state NOT IN ('Removed', 'Failed')
            )
            SELECT n.name FROM a67.nodes n JOIN live l ON l.node_id = n.id
            GROUP BY n.id
            HAVING coalesce(sum((l.spec->'resources'->>'cpus')::numeric), 0) > (n.facts->>'cpus')::numeric
                OR coalesce(sum((l.spec->'resources'->>'memoryMiB')::bigint * 1048576), 0) > (n.facts->>'memoryBytes')::bigint
            UNION
            SELECT n.name FROM live l CROSS JOIN LATERAL jsonb_array_elements(coalesce(l.spec->'ports', '[]')) p JOIN a67.nodes n ON n.id = l.node_id
            WHERE p->>'hostPort' IS NOT NULL
            GROUP BY n.id, n.name, p->>'hostPort', coalesce(p->>'protocol', 'tcp')
            HAVING count(*) > 1
            """, connection, transaction);
        command.Parameters.AddWithValue("nodes", nodeIds);
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    static async Task<OperationRow?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT id, account_id, app_id, app_name, kind, status, target_release_id, target_replicas, from_release_id, from_replicas, step,
                   attempts::text, cancel_requested, reason, deadline, wake_at, scheduled_wake_at, created_at
            FROM a67.operations WHERE id = @id FOR UPDATE
            """, connection, transaction);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        return new OperationRow
        {
            Id = reader.GetGuid(0),
            AccountId = reader.GetGuid(1),
            AppId = reader.IsDBNull(2) ? null : reader.GetGuid(2),
            AppName = reader.GetString(3),
            Kind = reader.GetString(4),
            Status = reader.GetString(5),
            TargetReleaseId = reader.IsDBNull(6) ? null : reader.GetGuid(6),
            TargetReplicas = reader.GetInt32(7),
            FromReleaseId = reader.IsDBNull(8) ? null : reader.GetGuid(8),
            FromReplicas = reader.GetInt32(9),
            Step = reader.GetString(10),
            Attempts = JsonSerializer.Deserialize<Dictionary<string, int>>(reader.GetString(11)) ?? [],
            CancelRequested = reader.GetBoolean(12),
            Reason = reader.IsDBNull(13) ? null : reader.GetString(13),
            Deadline = reader.GetFieldValue<DateTimeOffset>(14),
            WakeAt = reader.IsDBNull(15) ? null : reader.GetFieldValue<DateTimeOffset>(15),
            ScheduledWakeAt = reader.IsDBNull(16) ? null : reader.GetFieldValue<DateTimeOffset>(16),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(17),
        };
    }

    static async Task<List<ReplicaRow>> ReplicasAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid appId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT {ReplicaColumns} FROM a67.replicas WHERE app_id = @app AND state NOT IN ('Removed', 'Failed', 'Lost') ORDER BY slot",
            connection, transaction);
        command.Parameters.AddWithValue("app", appId);
        return await ReadReplicasAsync(command, ct);
    }

    public static async Task<List<ReplicaRow>> ReadReplicasAsync(NpgsqlCommand command, CancellationToken ct)
    {
        var rows = new List<ReplicaRow>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new ReplicaRow
            {
                Id = reader.GetGuid(0),
                AppId = reader.GetGuid(1),
                ReleaseId = reader.GetGuid(2),
                Slot = reader.GetInt32(3),
                NodeId = reader.GetGuid(4),
                Generation = reader.GetInt64(5),
                State = reader.GetString(6),
                OperationId = reader.IsDBNull(7) ? null : reader.GetGuid(7),
                CommandId = reader.IsDBNull(8) ? null : reader.GetGuid(8),
                CommandSentAt = reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
                Attempts = reader.GetInt32(10),
                ProbeFailures = reader.GetInt32(11),
                NextAt = reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12),
                StartedAt = reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                HealthyAt = reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14),
                ContainerId = reader.IsDBNull(15) ? null : reader.GetString(15),
                Ports = JsonSerializer.Deserialize(reader.GetString(16), RelayJsonContext.Default.IReadOnlyListPortBinding) ?? [],
                LastError = reader.IsDBNull(17) ? null : reader.GetString(17),
            });
        }

        return rows;
    }

    static async Task<List<PullRow>> PullsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid operationId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT release_id, node_id, state, command_id, command_sent_at, attempts, next_at, last_error FROM a67.operation_pulls WHERE operation_id = @op
            """, connection, transaction);
        command.Parameters.AddWithValue("op", operationId);
        var rows = new List<PullRow>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new PullRow
            {
                ReleaseId = reader.GetGuid(0),
                NodeId = reader.GetGuid(1),
                State = reader.GetString(2),
                CommandId = reader.IsDBNull(3) ? null : reader.GetGuid(3),
                CommandSentAt = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                Attempts = reader.GetInt32(5),
                NextAt = reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
                LastError = reader.IsDBNull(7) ? null : reader.GetString(7),
            });
        }

        return rows;
    }

    static async Task<Dictionary<Guid, CommandState>> CommandStatesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] ids, CancellationToken ct)
    {
        var states = new Dictionary<Guid, CommandState>();
        if (ids.Length == 0)
        {
            return states;
        }

        await using var command = new NpgsqlCommand("SELECT id, status, result::text FROM a67.relay_commands WHERE id = ANY(@ids)", connection, transaction);
        command.Parameters.AddWithValue("ids", ids);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            states[reader.GetGuid(0)] = new CommandState(reader.GetString(1),
                reader.IsDBNull(2) ? null : JsonSerializer.Deserialize(reader.GetString(2), RelayJsonContext.Default.CommandResult));
        }

        return states;
    }

    static async Task<Dictionary<Guid, Release>> ReleasesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] ids, CancellationToken ct)
    {
        var releases = new Dictionary<Guid, Release>();
        await using var command = new NpgsqlCommand("SELECT id, app_id, number, spec::text, created_at, created_by FROM a67.releases WHERE id = ANY(@ids)", connection, transaction);
        command.Parameters.AddWithValue("ids", ids);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            releases[reader.GetGuid(0)] = new Release(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), ReleaseSpecJson.Deserialize(reader.GetString(3)),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetGuid(5));
        }

        return releases;
    }

    /// <summary>
    /// The account's nodes placement may use now, with what their live replicas reserve; with
    /// <paramref name="excludeApp"/>, without what this app's own replicas reserve (a deployment replaces them).
    /// </summary>
    public async Task<IReadOnlyList<PlacementNode>> PlacementNodesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid accountId, Guid appId,
        DateTimeOffset now, CancellationToken ct, bool excludeApp = false)
    {
        var nodeSettings = nodeOptions.Value;
        await using var command = new NpgsqlCommand("""
            SELECT n.id, n.name, n.labels::text, (n.facts->>'cpus')::integer, (n.facts->>'memoryBytes')::bigint,
                   coalesce(sum((rel.spec->'resources'->>'cpus')::numeric), 0),
                   coalesce(sum((rel.spec->'resources'->>'memoryMiB')::bigint * 1048576), 0),
                   count(r.id) FILTER (WHERE r.app_id = @app),
                   count(r.id),
                   coalesce(jsonb_agg(rel.spec->'ports') FILTER (WHERE r.id IS NOT NULL), '[]')::text
            FROM a67.nodes n
            LEFT JOIN a67.replicas r ON r.node_id = n.id AND r.state NOT IN ('Removed', 'Failed') AND NOT (@exclude AND r.app_id = @app)
            LEFT JOIN a67.releases rel ON rel.id = r.release_id
            WHERE n.account_id = @account AND NOT n.draining AND n.last_heartbeat_at > @fresh
              AND (n.ping_outstanding_since IS NULL OR n.ping_outstanding_since > @degraded)
            GROUP BY n.id
            ORDER BY n.name
            """, connection, transaction);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("exclude", excludeApp);
        command.Parameters.AddWithValue("fresh", now - 3 * nodeSettings.HeartbeatInterval);
        command.Parameters.AddWithValue("degraded", now - 2 * nodeSettings.PingInterval);
        var nodes = new List<PlacementNode>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var ports = new HashSet<string>(StringComparer.Ordinal);
            foreach (var list in JsonSerializer.Deserialize<List<List<ReleasePort>?>>(reader.GetString(9), ReleaseSpecJson.Options) ?? [])
            {
                foreach (var port in list ?? [])
                {
                    if (port.HostPort is { } host)
                    {
                        ports.Add(Placement.PortKey(host, port.Protocol));
                    }
                }
            }

            nodes.Add(new PlacementNode(reader.GetGuid(0), reader.GetString(1),
                JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(2)) ?? [],
                reader.GetInt32(3), reader.GetInt64(4), reader.GetDecimal(5), reader.GetInt64(6), (int)reader.GetInt64(7), (int)reader.GetInt64(8), ports));
        }

        return nodes;
    }

    static async Task<Dictionary<Guid, string>> NodeNamesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, CancellationToken ct)
    {
        var names = new Dictionary<Guid, string>();
        await using var command = new NpgsqlCommand("SELECT id, name FROM a67.nodes WHERE account_id = @account", connection, transaction);
        command.Parameters.AddWithValue("account", accountId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            names[reader.GetGuid(0)] = reader.GetString(1);
        }

        return names;
    }

    static async Task<Queue<long>> GenerationsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int count, CancellationToken ct)
    {
        var generations = new Queue<long>();
        await using var command = new NpgsqlCommand("SELECT nextval('a67.replica_generations') FROM generate_series(1, @count)", connection, transaction);
        command.Parameters.AddWithValue("count", Math.Max(1, count));
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            generations.Enqueue(reader.GetInt64(0));
        }

        return generations;
    }

    async Task SaveReplicasAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<ReplicaRow> rows, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var row in rows)
        {
            await using var command = new NpgsqlCommand(row.IsNew
                ? """
                  INSERT INTO a67.replicas (id, app_id, release_id, slot, node_id, generation, state, operation_id, command_id, command_sent_at, attempts,
                      probe_failures, next_at, started_at, healthy_at, container_id, ports, last_error, created_at, updated_at)
                  VALUES (@id, @app, @release, @slot, @node, @generation, @state, @operation, @command, @sent, @attempts, @probes, @next, @started, @healthy,
                      @container, @ports::jsonb, @error, @now, @now)
                  """
                : """
                  UPDATE a67.replicas SET state = @state, operation_id = @operation, command_id = @command, command_sent_at = @sent, attempts = @attempts,
                      probe_failures = @probes, next_at = @next, started_at = @started, healthy_at = @healthy, container_id = @container,
                      ports = @ports::jsonb, last_error = @error, updated_at = @now
                  WHERE id = @id
                  """, connection, transaction);
            command.Parameters.AddWithValue("id", row.Id);
            command.Parameters.AddWithValue("app", row.AppId);
            command.Parameters.AddWithValue("release", row.ReleaseId);
            command.Parameters.AddWithValue("slot", row.Slot);
            command.Parameters.AddWithValue("node", row.NodeId);
            command.Parameters.AddWithValue("generation", row.Generation);
            command.Parameters.AddWithValue("state", row.State);
            command.Parameters.Add(Nullable("operation", NpgsqlDbType.Uuid, row.OperationId));
            command.Parameters.Add(Nullable("command", NpgsqlDbType.Uuid, row.CommandId));
            command.Parameters.Add(Nullable("sent", NpgsqlDbType.TimestampTz, row.CommandSentAt));
            command.Parameters.AddWithValue("attempts", row.Attempts);
            command.Parameters.AddWithValue("probes", row.ProbeFailures);
            command.Parameters.Add(Nullable("next", NpgsqlDbType.TimestampTz, row.NextAt));
            command.Parameters.Add(Nullable("started", NpgsqlDbType.TimestampTz, row.StartedAt));
            command.Parameters.Add(Nullable("healthy", NpgsqlDbType.TimestampTz, row.HealthyAt));
            command.Parameters.Add(Nullable("container", NpgsqlDbType.Text, row.ContainerId));
            command.Parameters.AddWithValue("ports", JsonSerializer.Serialize(row.Ports, RelayJsonContext.Default.IReadOnlyListPortBinding));
            command.Parameters.Add(Nullable("error", NpgsqlDbType.Text, row.LastError is { Length: > 1000 } long_ ? long_[..1000] : row.LastError));
            command.Parameters.AddWithValue("now", now);
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    static async Task SavePullsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid operationId, IEnumerable<PullRow> rows, CancellationToken ct)
    {
        foreach (var row in rows)
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO a67.operation_pulls (operation_id, release_id, node_id, state, command_id, command_sent_at, attempts, next_at, last_error)
                VALUES (@op, @release, @node, @state, @command, @sent, @attempts, @next, @error)
                ON CONFLICT (operation_id, release_id, node_id) DO UPDATE
                SET state = excluded.state, command_id = excluded.command_id, command_sent_at = excluded.command_sent_at, attempts = excluded.attempts,
                    next_at = excluded.next_at, last_error = excluded.last_error
                """, connection, transaction);
            command.Parameters.AddWithValue("op", operationId);
            command.Parameters.AddWithValue("release", row.ReleaseId);
            command.Parameters.AddWithValue("node", row.NodeId);
            command.Parameters.AddWithValue("state", row.State);
            command.Parameters.Add(Nullable("command", NpgsqlDbType.Uuid, row.CommandId));
            command.Parameters.Add(Nullable("sent", NpgsqlDbType.TimestampTz, row.CommandSentAt));
            command.Parameters.AddWithValue("attempts", row.Attempts);
            command.Parameters.Add(Nullable("next", NpgsqlDbType.TimestampTz, row.NextAt));
            command.Parameters.Add(Nullable("error", NpgsqlDbType.Text, row.LastError));
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    static async Task SaveOperationAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, OperationRow op, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE a67.operations SET status = @status, target_release_id = @target, target_replicas = @replicas, step = @step, attempts = @attempts::jsonb,
                reason = @reason, deadline = @deadline, wake_at = @wake, scheduled_wake_at = @scheduled, updated_at = @now, finished_at = @finished
            WHERE id = @id
            """, connection, transaction);
        command.Parameters.AddWithValue("id", op.Id);
        command.Parameters.AddWithValue("status", op.Status);
        command.Parameters.Add(Nullable("target", NpgsqlDbType.Uuid, op.TargetReleaseId));
        command.Parameters.AddWithValue("replicas", op.TargetReplicas);
        command.Parameters.AddWithValue("step", op.Step);
        command.Parameters.AddWithValue("attempts", JsonSerializer.Serialize(op.Attempts));
        command.Parameters.Add(Nullable("reason", NpgsqlDbType.Text, op.Reason is { Length: > 2000 } r ? r[..2000] : op.Reason));
        command.Parameters.AddWithValue("deadline", op.Deadline);
        command.Parameters.Add(Nullable("wake", NpgsqlDbType.TimestampTz, op.WakeAt));
        command.Parameters.Add(Nullable("scheduled", NpgsqlDbType.TimestampTz, op.ScheduledWakeAt));
        command.Parameters.AddWithValue("now", now);
        command.Parameters.Add(Nullable("finished", NpgsqlDbType.TimestampTz, op.FinishedAt));
        await command.ExecuteNonQueryAsync(ct);
    }

    static DateTimeOffset WholeSecondAfter(DateTimeOffset time) =>
        new DateTimeOffset(time.Ticks - (time.Ticks % TimeSpan.TicksPerSecond), time.Offset).AddSeconds(1);

    [LoggerMessage(EventId = 1700, Level = LogLevel.Information, Message = "Operation {OperationId} ({Kind}): {Status}, step {Step}, {Commands} command(s) sent")]
    partial void LogAdvanced(Guid operationId, string kind, string status, string step, int commands);

    [LoggerMessage(EventId = 1701, Level = LogLevel.Information, Message = "Operation {OperationId}: another placement took the room on {Nodes} first; advancing again under the placement lock")]
    partial void LogPlacementRace(Guid operationId, IReadOnlyList<string> nodes);
}
