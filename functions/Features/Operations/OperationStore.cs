using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Operations;

/// <summary>What a new operation asks for: which app, what kind, and where it should end.</summary>
public sealed record OperationStart(Guid AccountId, Guid AppId, string AppName, string Kind, Guid? TargetReleaseId, int TargetReplicas,
    Guid? FromReleaseId, int FromReplicas, Guid CreatedBy, string Message);

/// <summary>The app row as operations need it, read under its lock.</summary>
public sealed record AppState(Guid Id, string Name, Guid? CurrentReleaseId, int? CurrentReleaseNumber, int Replicas);

/// <summary>Cancelling or retrying: what happened.</summary>
public enum OperationChange
{
    Done,
    NotFound,
    Finished,
    NotFailed,
    AlreadyReverting,
    AnotherActive,
}

/// <summary>The operations table: starting them (one active per app), reading them, cancel and retry.</summary>
public sealed class OperationStore(NpgsqlDataSource dataSource, IOptions<OperationOptions> options, TimeProvider time)
{
    public const string OneActiveIndex = "operations_one_active";

    const string ViewColumns = """
        o.id, o.app_id, o.app_name, o.kind, o.status, o.step, o.attempts::text, t.number, o.target_replicas, f.number, o.reason, o.cancel_requested,
        o.created_at, o.updated_at, o.finished_at, o.deadline
        """;

    const string ViewFrom = """
        FROM a67.operations o
        LEFT JOIN a67.releases t ON t.id = o.target_release_id
        LEFT JOIN a67.releases f ON f.id = o.from_release_id
        """;

    /// <summary>Locks the app's row (one change of its desired state at a time) and reads it; null when it is not the account's.</summary>
    public static async Task<AppState?> LockAppAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid appId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT a.id, a.name, a.current_release_id, r.number, a.replicas FROM a67.apps a LEFT JOIN a67.releases r ON r.id = a.current_release_id
            WHERE a.id = @id AND a.account_id = @account FOR UPDATE OF a
            """, connection, transaction);
        command.Parameters.AddWithValue("id", appId);
        command.Parameters.AddWithValue("account", accountId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new AppState(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.GetInt32(4))
            : null;
    }

    /// <summary>The app's active operation, if it has one.</summary>
    public static async Task<Guid?> ActiveAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid appId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT id FROM a67.operations WHERE app_id = @app AND status IN ('Pending', 'Running', 'RollingBack')", connection, transaction);
        command.Parameters.AddWithValue("app", appId);
        return await command.ExecuteScalarAsync(ct) as Guid?;
    }

    /// <summary>Inserts a Pending operation (due at once) with its first history entry, in the caller's transaction.</summary>
    public async Task<Guid> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, OperationStart start, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        await using var command = new NpgsqlCommand("""
            INSERT INTO a67.operations (id, account_id, app_id, app_name, kind, status, target_release_id, target_replicas, from_release_id, from_replicas, step,
                deadline, wake_at, created_by, created_at, updated_at)
            VALUES (@id, @account, @app, @name, @kind, 'Pending', @target, @replicas, @from, @fromReplicas, 'place', @deadline, @now, @by, @now, @now)
            """, connection, transaction);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", start.AccountId);
        command.Parameters.AddWithValue("app", start.AppId);
        command.Parameters.AddWithValue("name", start.AppName);
        command.Parameters.AddWithValue("kind", start.Kind);
        command.Parameters.Add(new NpgsqlParameter("target", NpgsqlDbType.Uuid) { Value = (object?)start.TargetReleaseId ?? DBNull.Value });
        command.Parameters.AddWithValue("replicas", start.TargetReplicas);
        command.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.Uuid) { Value = (object?)start.FromReleaseId ?? DBNull.Value });
        command.Parameters.AddWithValue("fromReplicas", start.FromReplicas);
        command.Parameters.AddWithValue("deadline", now + options.Value.MaxDuration);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("by", start.CreatedBy);
        await command.ExecuteNonQueryAsync(ct);
        await OperationHistory.AppendAsync(connection, transaction, id, [new HistoryEntry(now, HistoryTypes.Created, null, start.Message)], ct);
        return id;
    }

    public async Task<OperationView?> FindAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {ViewColumns} {ViewFrom} WHERE o.id = @id AND o.account_id = @account");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        var view = (await ReadViewsAsync(command, ct)).SingleOrDefault();
        return view is null ? null : view with { History = await OperationHistory.ReadAsync(dataSource, id, ct) };
    }

    public async Task<IReadOnlyList<OperationView>> ListForAppAsync(Guid appId, int limit, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {ViewColumns} {ViewFrom} WHERE o.app_id = @app ORDER BY o.created_at DESC LIMIT @limit");
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadViewsAsync(command, ct);
    }

    /// <summary>
    /// Cancels an active operation: no further step toward its target; it goes back to what the app ran before (the
    /// same way a rollback does) and ends Cancelled. One already rolling back goes on rolling back.
    /// </summary>
    public async Task<OperationChange> CancelAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var command = new NpgsqlCommand("SELECT status, cancel_requested, app_id FROM a67.operations WHERE id = @id AND account_id = @account FOR UPDATE",
            connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("account", accountId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return OperationChange.NotFound;
            }

            var (status, requested) = (reader.GetString(0), reader.GetBoolean(1));
            if (!OperationStatuses.IsActive(status))
            {
                return OperationChange.Finished;
            }

            if (status == OperationStatuses.RollingBack)
            {
                return OperationChange.AlreadyReverting;
            }

            if (requested)
            {
                return OperationChange.Done;
            }
        }

        var now = time.GetUtcNow();
        await using (var cancel = new NpgsqlCommand("""
            UPDATE a67.operations SET cancel_requested = true, status = 'Running', target_release_id = from_release_id, target_replicas = from_replicas,
                reason = 'cancelled on request', deadline = @deadline, wake_at = @now, updated_at = @now
            WHERE id = @id
            """, connection, transaction))
        {
            cancel.Parameters.AddWithValue("id", id);
            cancel.Parameters.AddWithValue("now", now);
            cancel.Parameters.AddWithValue("deadline", now + options.Value.MaxDuration);
            await cancel.ExecuteNonQueryAsync(ct);
        }

        await OperationHistory.AppendAsync(connection, transaction, id,
            [new HistoryEntry(now, HistoryTypes.CancelRequested, null, "cancel requested: no further steps toward the target; going back to what ran before")], ct);
        await transaction.CommitAsync(ct);
        return OperationChange.Done;
    }

    /// <summary>Runs a Failed operation again from where it stopped, with fresh attempts and a new deadline.</summary>
    public async Task<OperationChange> RetryAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        string status;
        Guid? appId;
        await using (var command = new NpgsqlCommand("SELECT status, app_id FROM a67.operations WHERE id = @id AND account_id = @account FOR UPDATE", connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("account", accountId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return OperationChange.NotFound;
            }

            (status, appId) = (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetGuid(1));
        }

        if (status != OperationStatuses.Failed || appId is null)
        {
            return OperationChange.NotFailed;
        }

        var now = time.GetUtcNow();
        await using (var retry = new NpgsqlCommand("""
            UPDATE a67.operations SET status = CASE WHEN reason IS NULL THEN 'Running' ELSE 'RollingBack' END, attempts = '{}', step = 'place',
                deadline = @deadline, wake_at = @now, finished_at = NULL, updated_at = @now
            WHERE id = @id
            """, connection, transaction))
        {
            retry.Parameters.AddWithValue("id", id);
            retry.Parameters.AddWithValue("now", now);
            retry.Parameters.AddWithValue("deadline", now + options.Value.MaxDuration);
            try
            {
                await retry.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: OneActiveIndex })
            {
                return OperationChange.AnotherActive;
            }
        }

        await using (var reset = new NpgsqlCommand("UPDATE a67.replicas SET attempts = 0, probe_failures = 0, next_at = NULL WHERE app_id = @app AND state NOT IN ('Removed', 'Failed')",
            connection, transaction))
        {
            reset.Parameters.AddWithValue("app", appId.Value);
            await reset.ExecuteNonQueryAsync(ct);
        }

        // A pull that ran out of attempts stays Failed, and nothing sends a Failed pull again: its replicas would wait.
        await using (var pulls = new NpgsqlCommand("""
            UPDATE a67.operation_pulls SET state = 'Pulling', attempts = 0, command_id = NULL, next_at = NULL WHERE operation_id = @id AND state = 'Failed'
            """, connection, transaction))
        {
            pulls.Parameters.AddWithValue("id", id);
            await pulls.ExecuteNonQueryAsync(ct);
        }

        await OperationHistory.AppendAsync(connection, transaction, id, [new HistoryEntry(now, HistoryTypes.Retried, null, "retried on request: attempts start again")], ct);
        await transaction.CommitAsync(ct);
        return OperationChange.Done;
    }

    static async Task<List<OperationView>> ReadViewsAsync(NpgsqlCommand command, CancellationToken ct)
    {
        var views = new List<OperationView>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            views.Add(new OperationView(
                reader.GetGuid(0),
                reader.IsDBNull(1) ? null : reader.GetGuid(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                reader.GetString(5),
                JsonSerializer.Deserialize<Dictionary<string, int>>(reader.GetString(6)) ?? [],
                reader.IsDBNull(7) ? null : reader.GetInt32(7),
                reader.GetInt32(8),
                reader.IsDBNull(9) ? null : reader.GetInt32(9),
                reader.IsDBNull(10) ? null : reader.GetString(10),
                reader.GetBoolean(11),
                reader.GetFieldValue<DateTimeOffset>(12),
                reader.GetFieldValue<DateTimeOffset>(13),
                reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14),
                reader.GetFieldValue<DateTimeOffset>(15),
                null));
        }

        return views;
    }
}
