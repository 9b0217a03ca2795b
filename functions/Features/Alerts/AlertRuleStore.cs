using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Alerts;

/// <summary>A rule's fields as validated, for a create or (with the current values filled in) an update.</summary>
public sealed record AlertRuleFields(string Name, string Kind, Guid? AppId, Guid? NodeId, double? Threshold, int? DurationSeconds, Guid[] WebhookIds, bool Enabled);

/// <summary>The alert_rules table and the webhooks each rule notifies. Every change is audited in its transaction.</summary>
public sealed class AlertRuleStore(NpgsqlDataSource dataSource, AuditLog audit, TimeProvider time)
{
    public const string NameIndex = "alert_rules_account_id_name_key";

    const string Select = """
        SELECT r.id, r.name, r.kind, r.app_id, r.node_id, r.threshold, r.duration_seconds,
               ARRAY(SELECT w.webhook_id FROM a67.alert_rule_webhooks w WHERE w.rule_id = r.id ORDER BY w.webhook_id), r.enabled, r.created_at, r.updated_at
        FROM a67.alert_rules r
        """;

    public async Task<AlertRuleView> CreateAsync(Guid accountId, AlertRuleFields fields, AuditEvent created, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO a67.alert_rules (id, account_id, name, kind, app_id, node_id, threshold, duration_seconds, enabled, created_at, updated_at)
            VALUES (@id, @account, @name, @kind, @app, @node, @threshold, @duration, @enabled, @now, @now)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", id);
            insert.Parameters.AddWithValue("account", accountId);
            Bind(insert, fields);
            insert.Parameters.AddWithValue("now", now);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await SetWebhooksAsync(connection, transaction, accountId, id, fields.WebhookIds, ct);
        await audit.WriteAsync(connection, transaction, created with { Detail = Detail(id, fields) }, ct);
        await transaction.CommitAsync(ct);
        return new AlertRuleView(id, fields.Name, fields.Kind, fields.AppId, fields.NodeId, fields.Threshold, fields.DurationSeconds,
            [.. fields.WebhookIds.Order()], fields.Enabled, now, now);
    }

    public async Task<IReadOnlyList<AlertRuleView>> ListAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"{Select} WHERE r.account_id = @account ORDER BY r.name");
        command.Parameters.AddWithValue("account", accountId);
        return await command.ReadAllAsync(Read, ct);
    }

    /// <summary>One of the account's rules; null for a missing one and for another account's alike.</summary>
    public async Task<AlertRuleView?> FindAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"{Select} WHERE r.id = @id AND r.account_id = @account");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>Replaces the rule's changeable fields (name, threshold, duration, webhooks, enabled); null when the account has no such rule.</summary>
    public async Task<AlertRuleView?> UpdateAsync(Guid accountId, Guid id, AlertRuleFields fields, AuditEvent updated, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var update = new NpgsqlCommand("""
            UPDATE a67.alert_rules SET name = @name, threshold = @threshold, duration_seconds = @duration, enabled = @enabled, updated_at = @now
            WHERE id = @id AND account_id = @account AND kind = @kind
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("id", id);
            update.Parameters.AddWithValue("account", accountId);
            Bind(update, fields);
            update.Parameters.AddWithValue("now", time.GetUtcNow());
            if (await update.ExecuteNonQueryAsync(ct) == 0)
            {
                return null;
            }
        }

        await using (var clear = new NpgsqlCommand("DELETE FROM a67.alert_rule_webhooks WHERE rule_id = @id", connection, transaction))
        {
            clear.Parameters.AddWithValue("id", id);
            await clear.ExecuteNonQueryAsync(ct);
        }

        await SetWebhooksAsync(connection, transaction, accountId, id, fields.WebhookIds, ct);
        await audit.WriteAsync(connection, transaction, updated with { Detail = Detail(id, fields) }, ct);
        await transaction.CommitAsync(ct);
        return await FindAsync(accountId, id, ct);
    }

    /// <summary>Deletes the rule with its alerts and their deliveries; false when the account has no such rule.</summary>
    public async Task<bool> DeleteAsync(Guid accountId, Guid id, AuditEvent deleted, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand("DELETE FROM a67.alert_rules WHERE id = @id AND account_id = @account RETURNING name, kind", connection, transaction);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        (string Name, string Kind)? rule;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            rule = await reader.ReadAsync(ct) ? (reader.GetString(0), reader.GetString(1)) : null;
        }

        if (rule is not { } gone)
        {
            return false;
        }

        await audit.WriteAsync(connection, transaction, deleted with
        {
            Detail = new Dictionary<string, object?> { ["ruleId"] = id, ["name"] = gone.Name, ["kind"] = gone.Kind },
        }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Whether the account has this app (<paramref name="table"/> <c>apps</c>) or node (<c>nodes</c>).</summary>
    public async Task<bool> OwnsAsync(Guid accountId, string table, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(table == "apps"
            ? "SELECT EXISTS (SELECT 1 FROM a67.apps WHERE id = @id AND account_id = @account)"
            : "SELECT EXISTS (SELECT 1 FROM a67.nodes WHERE id = @id AND account_id = @account)");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    // Only the account's own webhooks can be linked, whatever ids the caller sent (they were checked before, too).
    static async Task SetWebhooksAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid ruleId, Guid[] webhookIds, CancellationToken ct)
    {
        await using var link = new NpgsqlCommand("""
            INSERT INTO a67.alert_rule_webhooks (rule_id, webhook_id)
            SELECT @rule, w.id FROM a67.webhooks w WHERE w.account_id = @account AND w.id = ANY(@webhooks)
            """, connection, transaction);
        link.Parameters.AddWithValue("rule", ruleId);
        link.Parameters.AddWithValue("account", accountId);
        link.Parameters.AddWithValue("webhooks", webhookIds);
        await link.ExecuteNonQueryAsync(ct);
    }

    static void Bind(NpgsqlCommand command, AlertRuleFields fields)
    {
        command.Parameters.AddWithValue("name", fields.Name);
        command.Parameters.AddWithValue("kind", fields.Kind);
        command.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Uuid) { Value = (object?)fields.AppId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("node", NpgsqlDbType.Uuid) { Value = (object?)fields.NodeId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("threshold", NpgsqlDbType.Double) { Value = (object?)fields.Threshold ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("duration", NpgsqlDbType.Integer) { Value = (object?)fields.DurationSeconds ?? DBNull.Value });
        command.Parameters.AddWithValue("enabled", fields.Enabled);
    }

    static Dictionary<string, object?> Detail(Guid id, AlertRuleFields fields) => new()
    {
        ["ruleId"] = id, ["name"] = fields.Name, ["kind"] = fields.Kind, ["appId"] = fields.AppId, ["nodeId"] = fields.NodeId,
        ["threshold"] = fields.Threshold, ["durationSeconds"] = fields.DurationSeconds, ["webhookIds"] = fields.WebhookIds, ["enabled"] = fields.Enabled,
    };

    static AlertRuleView Read(NpgsqlDataReader reader) => new(reader.GetGuid(0), reader.GetString(1), reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.IsDBNull(4) ? null : reader.GetGuid(4),
        reader.IsDBNull(5) ? null : reader.GetDouble(5), reader.IsDBNull(6) ? null : reader.GetInt32(6),
        reader.GetFieldValue<Guid[]>(7), reader.GetBoolean(8), reader.GetFieldValue<DateTimeOffset>(9), reader.GetFieldValue<DateTimeOffset>(10));
}
