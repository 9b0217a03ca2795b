using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using static Automator67.Functions.Database.DbParameters;

namespace Automator67.Functions.Features.Events;

/// <summary>One event: what happened, to which app, node, operation or replica, and when (the writer's clock).</summary>
public sealed record AppEvent(
    Guid AccountId,
    DateTimeOffset OccurredAt,
    string Type,
    string Severity,
    string Message,
    Guid? AppId = null,
    Guid? NodeId = null,
    Guid? OperationId = null,
    Guid? ReplicaId = null,
    IReadOnlyDictionary<string, object?>? Detail = null);

/// <summary>
/// Appends events in the caller's transaction, so an event is recorded exactly when the change it reports commits
/// (and never for a change that rolled back).
/// </summary>
public static class EventLog
{
    const string Insert = """
        INSERT INTO a67.events (account_id, occurred_at, type, severity, app_id, node_id, operation_id, replica_id, message, detail)
        VALUES (@account, @at, @type, @severity, @app, @node, @operation, @replica, @message, @detail::jsonb)
        """;

    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AppEvent e, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(Insert, connection, transaction);
        AddParameters(command.Parameters, e);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Appends <paramref name="events"/> in their order, in one round trip (a sweep pass may write hundreds).</summary>
    public static async Task WriteAllAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<AppEvent> events, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var e in events)
        {
            var command = new NpgsqlBatchCommand(Insert);
            AddParameters(command.Parameters, e);
            batch.BatchCommands.Add(command);
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
    }

    static void AddParameters(NpgsqlParameterCollection parameters, AppEvent e)
    {
        parameters.AddWithValue("account", e.AccountId);
        parameters.AddWithValue("at", e.OccurredAt);
        parameters.AddWithValue("type", e.Type);
        parameters.AddWithValue("severity", e.Severity);
        parameters.Add(Nullable("app", NpgsqlDbType.Uuid, e.AppId));
        parameters.Add(Nullable("node", NpgsqlDbType.Uuid, e.NodeId));
        parameters.Add(Nullable("operation", NpgsqlDbType.Uuid, e.OperationId));
        parameters.Add(Nullable("replica", NpgsqlDbType.Uuid, e.ReplicaId));
        parameters.AddWithValue("message", e.Message.Length > 2000 ? e.Message[..2000] : e.Message);
        parameters.AddWithValue("detail", JsonSerializer.Serialize(e.Detail ?? new Dictionary<string, object?>()));
    }
}
