using System.Text.Json;
using Automator67.Functions.Database;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Alerts;

/// <summary>An enabled rule as the evaluator reads it, with the webhooks it notifies.</summary>
public sealed record EvaluatedRule(Guid Id, Guid AccountId, string Name, string Kind, Guid? AppId, Guid? NodeId, double? Threshold, int? DurationSeconds,
    DateTimeOffset CreatedAt, Guid[] WebhookIds);

/// <summary>
/// An alert's transitions, in the caller's transaction: fire (one open alert per rule and subject: the unique index
/// decides, so two evaluations cannot both fire it) and resolve; each writes one delivery per webhook of the rule,
/// with the JSON body fixed now. The caller enqueues the returned deliveries after commit.
/// </summary>
public static class AlertTransitions
{
    public const string Firing = "firing";
    public const string Acknowledged = "acknowledged";
    public const string Resolved = "resolved";

    public static async Task<Guid[]> FireAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EvaluatedRule rule, AlertSubject subject,
        string message, IReadOnlyDictionary<string, object?> detail, long? eventId, DateTimeOffset now, CancellationToken ct)
    {
        var alertId = Guid.CreateVersion7();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO a67.alerts (id, account_id, rule_id, subject_type, subject_id, status, message, detail, event_id, fired_at)
            VALUES (@id, @account, @rule, @subjectType, @subject, 'firing', @message, @detail, @event, @now)
            ON CONFLICT (rule_id, subject_id) WHERE status <> 'resolved' DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", alertId);
            insert.Parameters.AddWithValue("account", rule.AccountId);
            insert.Parameters.AddWithValue("rule", rule.Id);
            insert.Parameters.AddWithValue("subjectType", subject.Type);
            insert.Parameters.AddWithValue("subject", subject.Id);
            insert.Parameters.AddWithValue("message", message.Length > 2000 ? message[..2000] : message);
            insert.Parameters.Add(new NpgsqlParameter("detail", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(detail) });
            insert.Parameters.Add(new NpgsqlParameter("event", NpgsqlDbType.Bigint) { Value = (object?)eventId ?? DBNull.Value });
            insert.Parameters.AddWithValue("now", now);
            if (await insert.ExecuteNonQueryAsync(ct) == 0)
            {
                return []; // already open: the same condition again is the same alert
            }
        }

        var alert = new AlertState(alertId, Firing, message, detail, now, null, null, null);
        return await DeliverAsync(connection, transaction, rule, subject, alert, Firing, now, ct);
    }

    /// <summary>Resolves the account's open alerts on <paramref name="subjectId"/> of rules of these kinds (all kinds when null).</summary>
    public static async Task<Guid[]> ResolveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid? subjectId, string[]? kinds,
        Guid? ruleId, string resolution, DateTimeOffset now, CancellationToken ct)
    {
        var resolved = new List<(EvaluatedRule Rule, AlertSubject Subject, AlertState Alert)>();
        await using (var update = new NpgsqlCommand("""
            UPDATE a67.alerts a SET status = 'resolved', resolved_at = @now, resolution = @resolution
            FROM a67.alert_rules r
            WHERE r.id = a.rule_id AND a.account_id = @account AND a.status <> 'resolved'
              AND (@subject::uuid IS NULL OR a.subject_id = @subject)
              AND (@kinds::text[] IS NULL OR r.kind = ANY(@kinds))
              AND (@rule::uuid IS NULL OR a.rule_id = @rule)
            RETURNING a.id, a.subject_type, a.subject_id, a.message, a.detail::text, a.fired_at, a.acknowledged_at,
                      r.id, r.name, r.kind, r.app_id, r.node_id, r.threshold, r.duration_seconds, r.created_at,
                      ARRAY(SELECT w.webhook_id FROM a67.alert_rule_webhooks w WHERE w.rule_id = r.id)
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("now", now);
            update.Parameters.AddWithValue("resolution", resolution.Length > 2000 ? resolution[..2000] : resolution);
            update.Parameters.AddWithValue("account", accountId);
            update.Parameters.Add(new NpgsqlParameter("subject", NpgsqlDbType.Uuid) { Value = (object?)subjectId ?? DBNull.Value });
            update.Parameters.Add(new NpgsqlParameter("kinds", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = (object?)kinds ?? DBNull.Value });
            update.Parameters.Add(new NpgsqlParameter("rule", NpgsqlDbType.Uuid) { Value = (object?)ruleId ?? DBNull.Value });
            await using var reader = await update.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var detail = JsonSerializer.Deserialize<Dictionary<string, object?>>(reader.GetString(4)) ?? [];
                var rule = new EvaluatedRule(reader.GetGuid(7), accountId, reader.GetString(8), reader.GetString(9), NullableGuid(reader, 10), NullableGuid(reader, 11),
                    reader.IsDBNull(12) ? null : reader.GetDouble(12), reader.IsDBNull(13) ? null : reader.GetInt32(13), reader.GetFieldValue<DateTimeOffset>(14),
                    reader.GetFieldValue<Guid[]>(15));
                resolved.Add((rule, new AlertSubject(reader.GetString(1), reader.GetGuid(2)), new AlertState(reader.GetGuid(0), Resolved, reader.GetString(3), detail,
                    reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6), now, resolution)));
            }
        }

        var deliveries = new List<Guid>();
        foreach (var (rule, subject, alert) in resolved)
        {
            deliveries.AddRange(await DeliverAsync(connection, transaction, rule, subject, alert, Resolved, now, ct));
        }

        return [.. deliveries];
    }

    sealed record AlertState(Guid Id, string Status, string Message, IReadOnlyDictionary<string, object?> Detail, DateTimeOffset FiredAt,
        DateTimeOffset? AcknowledgedAt, DateTimeOffset? ResolvedAt, string? Resolution);

    static async Task<Guid[]> DeliverAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EvaluatedRule rule, AlertSubject subject,
        AlertState alert, string transition, DateTimeOffset now, CancellationToken ct)
    {
        if (rule.WebhookIds.Length == 0)
        {
            return [];
        }

        var ids = rule.WebhookIds.Select(_ => Guid.CreateVersion7()).ToArray();
        var bodies = ids.Select(id => Body(id, rule, subject, alert, transition, now)).ToArray();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.alert_deliveries (id, account_id, alert_id, webhook_id, transition, body, next_attempt_at, created_at)
            SELECT d.id, @account, @alert, d.webhook, @transition, d.body, @now, @now
            FROM unnest(@ids, @webhooks, @bodies) AS d (id, webhook, body)
            WHERE EXISTS (SELECT 1 FROM a67.webhooks w WHERE w.id = d.webhook)
            ON CONFLICT (alert_id, webhook_id, transition) DO NOTHING
            RETURNING id
            """, connection, transaction);
        insert.Parameters.AddWithValue("account", rule.AccountId);
        insert.Parameters.AddWithValue("alert", alert.Id);
        insert.Parameters.AddWithValue("transition", transition);
        insert.Parameters.AddWithValue("now", now);
        insert.Parameters.AddWithValue("ids", ids);
        insert.Parameters.AddWithValue("webhooks", rule.WebhookIds);
        insert.Parameters.AddWithValue("bodies", bodies);
        return [.. await insert.ReadAllAsync(reader => reader.GetGuid(0), ct)];
    }

    /// <summary>The JSON a receiver gets; docs/alerts.md documents every field.</summary>
    static string Body(Guid deliveryId, EvaluatedRule rule, AlertSubject subject, AlertState alert, string transition, DateTimeOffset now) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["id"] = deliveryId,
            ["type"] = $"alert.{transition}",
            ["status"] = transition,
            ["occurredAt"] = now,
            ["message"] = alert.Message,
            ["subject"] = new Dictionary<string, object?> { ["type"] = subject.Type, ["id"] = subject.Id },
            ["alert"] = new Dictionary<string, object?>
            {
                ["id"] = alert.Id,
                ["status"] = alert.Status,
                ["firedAt"] = alert.FiredAt,
                ["acknowledgedAt"] = alert.AcknowledgedAt,
                ["resolvedAt"] = alert.ResolvedAt,
                ["resolution"] = alert.Resolution,
                ["detail"] = alert.Detail,
            },
            ["rule"] = new Dictionary<string, object?>
            {
                ["id"] = rule.Id, ["name"] = rule.Name, ["kind"] = rule.Kind, ["appId"] = rule.AppId, ["nodeId"] = rule.NodeId,
                ["threshold"] = rule.Threshold, ["durationSeconds"] = rule.DurationSeconds,
            },
        });

    static Guid? NullableGuid(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetGuid(ordinal);
}
