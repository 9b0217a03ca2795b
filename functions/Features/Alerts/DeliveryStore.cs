using Automator67.Functions.Database;
using Npgsql;

namespace Automator67.Functions.Features.Alerts;

/// <summary>A delivery claimed for one attempt: what to send where.</summary>
public sealed record ClaimedDelivery(Guid Id, Guid WebhookId, string Url, string Secret, string Body, int Attempt);

/// <summary>The deliveries table: the history people read, and the claim and outcome of each attempt.</summary>
public sealed class DeliveryStore(NpgsqlDataSource dataSource)
{
    /// <summary>An attempt holds its delivery this long beyond its timeout; a process that died mid-attempt frees it then.</summary>
    static readonly TimeSpan ClaimSlack = TimeSpan.FromSeconds(30);

    /// <summary>The account's deliveries to one webhook or of one alert, newest first, each with its attempts.</summary>
    public async Task<DeliveryView[]> ListAsync(Guid accountId, Guid? webhookId, Guid? alertId, int limit, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT d.id, d.alert_id, d.webhook_id, d.transition, d.status, d.attempts, d.created_at, d.next_attempt_at, d.completed_at,
                   coalesce(array_agg(a.attempt ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}'),
                   coalesce(array_agg(a.started_at ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}'),
                   coalesce(array_agg(a.duration_ms ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}'),
                   coalesce(array_agg(a.status_code ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}'),
                   coalesce(array_agg(a.error ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '{}')
            FROM a67.alert_deliveries d LEFT JOIN a67.alert_delivery_attempts a ON a.delivery_id = d.id
            WHERE d.account_id = @account AND (@webhook::uuid IS NULL OR d.webhook_id = @webhook) AND (@alert::uuid IS NULL OR d.alert_id = @alert)
            GROUP BY d.id
            ORDER BY d.created_at DESC, d.id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("webhook", (object?)webhookId ?? DBNull.Value);
        command.Parameters.AddWithValue("alert", (object?)alertId ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit);
        var deliveries = new List<DeliveryView>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var numbers = reader.GetFieldValue<int[]>(9);
            var started = reader.GetFieldValue<DateTimeOffset[]>(10);
            var durations = reader.GetFieldValue<int[]>(11);
            var codes = reader.GetFieldValue<int?[]>(12);
            var errors = reader.GetFieldValue<string?[]>(13);
            deliveries.Add(new DeliveryView(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5),
                reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                [.. numbers.Select((n, i) => new DeliveryAttemptView(n, started[i], durations[i], codes[i], errors[i]))]));
        }

        return [.. deliveries];
    }

    /// <summary>
    /// Claims a pending delivery whose attempt is due, for <paramref name="timeout"/> plus some slack: null when it is
    /// delivered, failed, gone, not due yet or being attempted by another job (jobs run at least once).
    /// </summary>
    public async Task<ClaimedDelivery?> ClaimAsync(Guid id, DateTimeOffset now, TimeSpan timeout, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE a67.alert_deliveries d SET claimed_until = @until, attempts = d.attempts + 1
            FROM a67.webhooks w
            WHERE d.id = @id AND w.id = d.webhook_id AND d.status = 'pending' AND d.next_attempt_at <= @now
              AND (d.claimed_until IS NULL OR d.claimed_until <= @now)
            RETURNING d.id, d.webhook_id, w.url, w.secret, d.body, d.attempts
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("until", now + timeout + ClaimSlack);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new ClaimedDelivery(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5))
            : null;
    }

    /// <summary>
    /// Records an attempt and what follows: delivered, failed for good, or pending again at <paramref name="retryAt"/>.
    /// </summary>
    public async Task CompleteAttemptAsync(ClaimedDelivery delivery, DateTimeOffset startedAt, TimeSpan duration, int? statusCode, string? error,
        string status, DateTimeOffset? retryAt, DateTimeOffset now, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        var attempt = new NpgsqlBatchCommand("""
            INSERT INTO a67.alert_delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
            VALUES (@id, @attempt, @started, @duration, @code, @error) ON CONFLICT DO NOTHING
            """);
        attempt.Parameters.AddWithValue("id", delivery.Id);
        attempt.Parameters.AddWithValue("attempt", delivery.Attempt);
        attempt.Parameters.AddWithValue("started", startedAt);
        attempt.Parameters.AddWithValue("duration", (int)Math.Min(int.MaxValue, Math.Round(duration.TotalMilliseconds)));
        attempt.Parameters.AddWithValue("code", (object?)statusCode ?? DBNull.Value);
        attempt.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
        batch.BatchCommands.Add(attempt);
        var outcome = new NpgsqlBatchCommand("""
            UPDATE a67.alert_deliveries SET status = @status, next_attempt_at = @next, claimed_until = NULL,
                completed_at = CASE WHEN @status = 'pending' THEN NULL ELSE @now END
            WHERE id = @id AND status = 'pending'
            """);
        outcome.Parameters.AddWithValue("id", delivery.Id);
        outcome.Parameters.AddWithValue("status", status);
        outcome.Parameters.AddWithValue("next", (object?)retryAt ?? DBNull.Value);
        outcome.Parameters.AddWithValue("now", now);
        batch.BatchCommands.Add(outcome);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Gives back a claim whose attempt was abandoned (the process is stopping): due again at once, the attempt not counted.</summary>
    public async Task ReleaseAsync(ClaimedDelivery delivery, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE a67.alert_deliveries SET claimed_until = NULL, attempts = attempts - 1
            WHERE id = @id AND status = 'pending' AND attempts = @attempt
            """);
        command.Parameters.AddWithValue("id", delivery.Id);
        command.Parameters.AddWithValue("attempt", delivery.Attempt);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Pending deliveries whose attempt is overdue by <paramref name="grace"/> and not under way: their job was lost
    /// (the process died between the commit that made them and the enqueue). The evaluation job enqueues them again.
    /// </summary>
    public async Task<List<Guid>> OverdueAsync(DateTimeOffset now, TimeSpan grace, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id FROM a67.alert_deliveries
            WHERE status = 'pending' AND next_attempt_at <= @due AND (claimed_until IS NULL OR claimed_until <= @now)
            ORDER BY next_attempt_at LIMIT 100
            """);
        command.Parameters.AddWithValue("due", now - grace);
        command.Parameters.AddWithValue("now", now);
        return await command.ReadAllAsync(reader => reader.GetGuid(0), ct);
    }
}
