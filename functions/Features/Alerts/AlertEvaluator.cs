using Automator67.Functions.Database;
using Npgsql;

namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// One evaluation tick, in one transaction that holds the evaluator's row (a second run at the same time skips):
/// 1. read the events after the cursor that fire or resolve alerts, skipping those already seen;
/// 2. fire and resolve alerts for them (<see cref="AlertKinds"/>);
/// 3. evaluate the threshold rules over the container stats (<see cref="ThresholdEvaluation"/>);
/// 4. resolve the open alerts of disabled rules;
/// 5. move the cursor as far as is safe (below), then commit and enqueue the deliveries made.
/// The cursor: identity ids are taken before commit, so an id below one already read can still commit. Ids read above
/// the cursor are remembered (<c>a67.alert_seen_events</c>); the cursor moves to the highest id read in an earlier tick
/// only once every transaction running at that tick has ended (<c>pg_snapshot_xmin</c> now ≥ the <c>xmax</c> noted
/// then), so every event at or below it has been read or never will be.
/// </summary>
public sealed partial class AlertEvaluator(NpgsqlDataSource dataSource, ThresholdEvaluation thresholds, TimeProvider time, ILogger<AlertEvaluator> logger)
{
    public const int BatchSize = 1000;

    sealed record EventRow(long Id, Guid AccountId, DateTimeOffset OccurredAt, string Type, Guid? AppId, Guid? NodeId, string Message);

    /// <summary>Runs one tick; returns the deliveries it made (to enqueue), or null when another run held the evaluator.</summary>
    public async Task<Guid[]?> EvaluateAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        long cursor;
        long? pendingHigh;
        bool safe;
        await using (var state = new NpgsqlCommand("""
            SELECT event_cursor, pending_high, pending_xmax IS NOT NULL AND pg_snapshot_xmin(pg_current_snapshot()) >= pending_xmax
            FROM a67.alert_evaluator WHERE id = 1 FOR UPDATE SKIP LOCKED
            """, connection, transaction))
        await using (var reader = await state.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            (cursor, pendingHigh, safe) = (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.GetBoolean(2));
        }

        var events = await ReadEventsAsync(connection, transaction, cursor, ct);
        await using var snapshot = new NpgsqlCommand("SELECT pg_snapshot_xmax(pg_current_snapshot())::text", connection, transaction);
        var xmax = (string)(await snapshot.ExecuteScalarAsync(ct))!;

        var rules = await LoadRulesAsync(connection, transaction, ct);
        var deliveries = new List<Guid>();
        foreach (var e in events)
        {
            deliveries.AddRange(await ApplyAsync(connection, transaction, e, rules, now, ct));
        }

        foreach (var rule in rules.Where(r => AlertKinds.IsThreshold(r.Kind)))
        {
            deliveries.AddRange(await thresholds.EvaluateAsync(connection, transaction, rule, now, ct));
        }

        deliveries.AddRange(await ResolveDisabledAsync(connection, transaction, now, ct));

        // Cursor: up to the high mark of an earlier tick once it is safe (a full batch stops at its last id: above it
        // there may be events not read yet); the new high mark waits for the transactions running now to end.
        var lastRead = events.Count > 0 ? events[^1].Id : (long?)null;
        if (safe && pendingHigh is { } high)
        {
            cursor = Math.Max(cursor, events.Count == BatchSize ? Math.Min(high, lastRead!.Value) : high);
        }

        var newHigh = Math.Max(pendingHigh ?? cursor, lastRead ?? cursor);
        await using (var save = new NpgsqlCommand("""
            INSERT INTO a67.alert_seen_events (event_id) SELECT unnest(@read) ON CONFLICT DO NOTHING;
            DELETE FROM a67.alert_seen_events WHERE event_id <= @cursor;
            UPDATE a67.alert_evaluator SET event_cursor = @cursor, last_run_at = @now,
                pending_high = CASE WHEN @high > @cursor THEN @high END,
                pending_xmax = CASE WHEN @high > @cursor THEN @xmax::xid8 END
            WHERE id = 1
            """, connection, transaction))
        {
            save.Parameters.AddWithValue("read", events.Select(e => e.Id).ToArray());
            save.Parameters.AddWithValue("cursor", cursor);
            save.Parameters.AddWithValue("high", newHigh);
            save.Parameters.AddWithValue("xmax", xmax);
            save.Parameters.AddWithValue("now", now);
            await save.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        if (events.Count > 0 || deliveries.Count > 0)
        {
            LogEvaluated(events.Count, deliveries.Count, cursor);
        }

        return [.. deliveries];
    }

    static async Task<List<EventRow>> ReadEventsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long cursor, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT e.id, e.account_id, e.occurred_at, e.type, e.app_id, e.node_id, e.message FROM a67.events e
            WHERE e.id > @cursor AND e.type = ANY(@types)
              AND NOT EXISTS (SELECT 1 FROM a67.alert_seen_events s WHERE s.event_id = e.id)
            ORDER BY e.id LIMIT @batch
            """, connection, transaction);
        command.Parameters.AddWithValue("cursor", cursor);
        command.Parameters.AddWithValue("types", AlertKinds.EventTypesRead);
        command.Parameters.AddWithValue("batch", BatchSize);
        return await command.ReadAllAsync(reader => new EventRow(reader.GetInt64(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.IsDBNull(5) ? null : reader.GetGuid(5), reader.GetString(6)), ct);
    }

    static async Task<List<EvaluatedRule>> LoadRulesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT r.id, r.account_id, r.name, r.kind, r.app_id, r.node_id, r.threshold, r.duration_seconds, r.created_at,
                   ARRAY(SELECT w.webhook_id FROM a67.alert_rule_webhooks w WHERE w.rule_id = r.id)
            FROM a67.alert_rules r WHERE r.enabled
            """, connection, transaction);
        return await command.ReadAllAsync(reader => new EvaluatedRule(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.IsDBNull(5) ? null : reader.GetGuid(5),
            reader.IsDBNull(6) ? null : reader.GetDouble(6), reader.IsDBNull(7) ? null : reader.GetInt32(7),
            reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<Guid[]>(9)), ct);
    }

    static async Task<List<Guid>> ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EventRow e, List<EvaluatedRule> rules,
        DateTimeOffset now, CancellationToken ct)
    {
        var deliveries = new List<Guid>();
        var resolves = AlertKinds.ResolvedBy(e.Type);
        var resolvedSubject = resolves.Contains(AlertKinds.NodeOffline) ? e.NodeId : e.AppId;
        if (resolves.Length > 0 && resolvedSubject is { } resolved)
        {
            deliveries.AddRange(await AlertTransitions.ResolveAsync(connection, transaction, e.AccountId, resolved, resolves, null, $"{e.Type}: {e.Message}", now, ct));
        }

        if (AlertKinds.FiredBy(e.Type) is not { } kind)
        {
            return deliveries;
        }

        var subjectId = kind == AlertKinds.NodeOffline ? e.NodeId : e.AppId;
        if (subjectId is null)
        {
            return deliveries;
        }

        // A rule watches what happens from its creation on; scoped rules only their app or node.
        foreach (var rule in rules.Where(r => r.AccountId == e.AccountId && r.Kind == kind && r.CreatedAt <= e.OccurredAt
            && (r.AppId is null || r.AppId == e.AppId) && (r.NodeId is null || r.NodeId == e.NodeId)))
        {
            var detail = new Dictionary<string, object?> { ["eventId"] = e.Id, ["eventType"] = e.Type, ["appId"] = e.AppId, ["nodeId"] = e.NodeId };
            deliveries.AddRange(await AlertTransitions.FireAsync(connection, transaction, rule, new AlertSubject(AlertKinds.SubjectType(kind), subjectId.Value),
                e.Message, detail, e.Id, now, ct));
        }

        return deliveries;
    }

    static async Task<List<Guid>> ResolveDisabledAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset now, CancellationToken ct)
    {
        var disabled = new List<(Guid Rule, Guid Account)>();
        await using (var command = new NpgsqlCommand("""
            SELECT DISTINCT r.id, r.account_id FROM a67.alerts a JOIN a67.alert_rules r ON r.id = a.rule_id
            WHERE a.status <> 'resolved' AND NOT r.enabled
            """, connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                disabled.Add((reader.GetGuid(0), reader.GetGuid(1)));
            }
        }

        var deliveries = new List<Guid>();
        foreach (var (rule, account) in disabled)
        {
            deliveries.AddRange(await AlertTransitions.ResolveAsync(connection, transaction, account, null, null, rule, "the rule was disabled", now, ct));
        }

        return deliveries;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Alert evaluation read {Events} event(s), made {Deliveries} delivery(ies); cursor at {Cursor}")]
    partial void LogEvaluated(int events, int deliveries, long cursor);
}
