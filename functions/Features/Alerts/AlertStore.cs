using System.Text.Json;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Alerts;

/// <summary>The alerts table as people read it, and acknowledgement.</summary>
public sealed class AlertStore(NpgsqlDataSource dataSource, DeliveryStore deliveries, AuditLog audit, TimeProvider time)
{
    const string Select = """
        SELECT a.id, a.rule_id, r.name, r.kind, a.status, a.subject_type, a.subject_id, a.message, a.detail::text, a.event_id,
               a.fired_at, a.acknowledged_at, a.resolved_at, a.resolution
        FROM a67.alerts a JOIN a67.alert_rules r ON r.id = a.rule_id
        """;

    /// <summary>
    /// The account's alerts, newest first (ids are time-ordered). <paramref name="statuses"/> empty: every status.
    /// </summary>
    public async Task<AlertPage> ListAsync(Guid accountId, string[] statuses, Guid? ruleId, Guid? before, int limit, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            {Select}
            WHERE a.account_id = @account AND (cardinality(@statuses) = 0 OR a.status = ANY(@statuses))
              AND (@rule::uuid IS NULL OR a.rule_id = @rule) AND (@before::uuid IS NULL OR a.id < @before)
            ORDER BY a.id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = statuses });
        command.Parameters.Add(new NpgsqlParameter("rule", NpgsqlDbType.Uuid) { Value = (object?)ruleId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Uuid) { Value = (object?)before ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit + 1);
        var alerts = await command.ReadAllAsync(Read, ct);

        var page = alerts.Take(limit).ToArray();
        return new AlertPage(page, alerts.Count > limit ? page[^1].Id : null);
    }

    /// <summary>One of the account's alerts with its deliveries; null for a missing one and for another account's alike.</summary>
    public async Task<AlertView?> FindAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        AlertView? alert;
        await using (var command = dataSource.CreateCommand($"{Select} WHERE a.id = @id AND a.account_id = @account"))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("account", accountId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            alert = await reader.ReadAsync(ct) ? Read(reader) : null;
        }

        return alert is null ? null : alert with { Deliveries = await deliveries.ListAsync(accountId, null, id, WebhookEndpoints.MaxDeliveries, ct) };
    }

    /// <summary>
    /// Acknowledges a firing alert (someone is on it; it stays open until its condition clears). An acknowledged one
    /// stays as it is; a resolved one cannot be: <c>Conflict</c>.
    /// </summary>
    public async Task<(AlertView? Alert, bool Conflict)> AcknowledgeAsync(Guid accountId, Guid id, Guid actorId, AuditEvent acknowledged, CancellationToken ct)
    {
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            await using var command = new NpgsqlCommand("""
                UPDATE a67.alerts SET status = 'acknowledged', acknowledged_at = @now, acknowledged_by = @actor
                WHERE id = @id AND account_id = @account AND status = 'firing'
                """, connection, transaction);
            command.Parameters.AddWithValue("now", time.GetUtcNow());
            command.Parameters.AddWithValue("actor", actorId);
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("account", accountId);
            if (await command.ExecuteNonQueryAsync(ct) == 1)
            {
                await audit.WriteAsync(connection, transaction, acknowledged with { Detail = new Dictionary<string, object?> { ["alertId"] = id } }, ct);
                await transaction.CommitAsync(ct);
            }
        }

        var alert = await FindAsync(accountId, id, ct);
        return (alert, alert?.Status == AlertTransitions.Resolved);
    }

    static AlertView Read(NpgsqlDataReader reader)
    {
        using var detail = JsonDocument.Parse(reader.GetString(8));
        return new AlertView(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            new AlertSubject(reader.GetString(5), reader.GetGuid(6)), reader.GetString(7), detail.RootElement.Clone(),
            reader.IsDBNull(9) ? null : reader.GetInt64(9), reader.GetFieldValue<DateTimeOffset>(10),
            reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11), reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12),
            reader.IsDBNull(13) ? null : reader.GetString(13), null);
    }
}
