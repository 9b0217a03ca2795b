using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

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
    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AppEvent e, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO a67.events (account_id, occurred_at, type, severity, app_id, node_id, operation_id, replica_id, message, detail)
            VALUES (@account, @at, @type, @severity, @app, @node, @operation, @replica, @message, @detail::jsonb)
            """, connection, transaction);
        command.Parameters.AddWithValue("account", e.AccountId);
        command.Parameters.AddWithValue("at", e.OccurredAt);
        command.Parameters.AddWithValue("type", e.Type);
        command.Parameters.AddWithValue("severity", e.Severity);
        command.Parameters.Add(Id("app", e.AppId));
        command.Parameters.Add(Id("node", e.NodeId));
        command.Parameters.Add(Id("operation", e.OperationId));
        command.Parameters.Add(Id("replica", e.ReplicaId));
        command.Parameters.AddWithValue("message", e.Message.Length > 2000 ? e.Message[..2000] : e.Message);
        command.Parameters.AddWithValue("detail", JsonSerializer.Serialize(e.Detail ?? new Dictionary<string, object?>()));
        await command.ExecuteNonQueryAsync(ct);
    }

    static NpgsqlParameter Id(string name, Guid? value) => new(name, NpgsqlDbType.Uuid) { Value = (object?)value ?? DBNull.Value };
}
