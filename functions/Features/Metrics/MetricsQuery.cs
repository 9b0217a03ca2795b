using Automator67.Functions.Database;
using Npgsql;

namespace Automator67.Functions.Features.Metrics;

public sealed record AvgMax(double Avg, double Max);

public sealed record AvgMaxBytes(long Avg, long Max);

/// <summary>One step: CPU % and memory of the subject's containers together, what they sent and received, restarts, and how many ran.</summary>
public sealed record MetricsPoint(DateTimeOffset At, AvgMax CpuPercent, AvgMaxBytes MemoryBytes, long NetworkRxBytes, long NetworkTxBytes, long Restarts, int Replicas);

/// <summary>Whose metrics: a node (every labelled container on it) or an app (its containers on the account's nodes).</summary>
public sealed record MetricsSubject(string Kind, Guid Id, Guid AccountId)
{
    public const string App = "app";
    public const string Node = "node";

    /// <summary>Containers carry their app's id in the "N" format as their app label.</summary>
    public string AppLabel => Id.ToString("N");
}

/// <summary>
/// Reads one subject's points for a window: hour buckets up to the hour rollup's watermark, minute buckets up to the
/// minute rollup's, raw points after it (so the last hour, not rolled up yet, is there too), each from where the
/// window's source begins. Every part yields per node and step the weighted sums the step needs, so parts add up.
/// </summary>
public sealed class MetricsQuery(NpgsqlDataSource dataSource)
{
    public async Task<MetricsPoint[]> ReadAsync(MetricsSubject subject, MetricsWindow window, CancellationToken ct)
    {
        var (minutesUntil, hoursUntil) = await WatermarksAsync(ct);
        var (from, to) = (window.From, window.To);
        DateTimeOffset hourTo = from, minuteFrom = from, minuteTo = from;
        if (window.Source == MetricsSource.Hour)
        {
            hourTo = Clamp(hoursUntil ?? from, from, to);
            minuteFrom = hourTo;
        }

        if (window.Source != MetricsSource.Raw)
        {
            minuteTo = Clamp(minutesUntil ?? from, minuteFrom, to);
        }

        var rawFrom = minuteTo;
        var (node, container, raw) = subject.Kind == MetricsSubject.Node
            ? ("n.node_id = @subject AND n.app = ''", "c.node_id = @subject", "c.node_id = @subject")
            : ("n.app = @app AND n.node_id IN (SELECT id FROM a67.nodes WHERE account_id = @account)",
               "c.app = @app AND c.node_id IN (SELECT id FROM a67.nodes WHERE account_id = @account)",
               "c.app = @app AND c.node_id IN (SELECT id FROM a67.nodes WHERE account_id = @account)");
        await using var command = dataSource.CreateCommand($"""
            WITH {MetricsSql.Deltas(raw, "@rawFrom", "@to")},
            beats AS (
                SELECT node_id, at, sum(cpu_percent) AS cpu, sum(memory_used)::float8 AS mem, sum(rx) AS rx, sum(tx) AS tx, sum(restarts) AS restarts
                FROM x GROUP BY node_id, at
            ),
            parts AS (
                SELECT n.node_id, n.bucket AS at, n.heartbeats, n.cpu_avg * n.heartbeats AS cpu_sum, n.cpu_max, n.memory_avg * n.heartbeats AS mem_sum,
                       n.memory_max::float8 AS mem_max, n.network_rx::numeric AS rx, n.network_tx::numeric AS tx, n.restarts::numeric AS restarts
                FROM a67.node_metrics_hour n WHERE {node} AND n.bucket >= @from AND n.bucket < @hourTo
                UNION ALL
                SELECT n.node_id, n.bucket, n.heartbeats, n.cpu_avg * n.heartbeats, n.cpu_max, n.memory_avg * n.heartbeats,
                       n.memory_max::float8, n.network_rx, n.network_tx, n.restarts
                FROM a67.node_metrics_minute n WHERE {node} AND n.bucket >= @minuteFrom AND n.bucket < @minuteTo
                UNION ALL
                SELECT node_id, at, 1, cpu, cpu, mem, mem, rx, tx, restarts FROM beats
            ),
            per_node AS (
                SELECT floor(extract(epoch FROM at - @from) / @step)::int AS k, node_id,
                       sum(cpu_sum) / sum(heartbeats) AS cpu_avg, max(cpu_max) AS cpu_max, sum(mem_sum) / sum(heartbeats) AS mem_avg, max(mem_max) AS mem_max,
                       sum(rx) AS rx, sum(tx) AS tx, sum(restarts) AS restarts
                FROM parts GROUP BY 1, 2
            ),
            steps AS (
                SELECT k, sum(cpu_avg) AS cpu_avg, sum(cpu_max) AS cpu_max, sum(mem_avg) AS mem_avg, sum(mem_max) AS mem_max,
                       sum(rx) AS rx, sum(tx) AS tx, sum(restarts) AS restarts
                FROM per_node GROUP BY k
            ),
            running AS (
                SELECT floor(extract(epoch FROM c.bucket - @from) / @step)::int AS k, c.node_id, c.container_id
                FROM a67.container_metrics_hour c WHERE {container} AND c.bucket >= @from AND c.bucket < @hourTo
                UNION
                SELECT floor(extract(epoch FROM c.bucket - @from) / @step)::int, c.node_id, c.container_id
                FROM a67.container_metrics_minute c WHERE {container} AND c.bucket >= @minuteFrom AND c.bucket < @minuteTo
                UNION
                SELECT floor(extract(epoch FROM at - @from) / @step)::int, node_id, container_id FROM x
            ),
            replicas AS (SELECT k, count(*)::int AS n FROM running GROUP BY k)
            SELECT s.k, s.cpu_avg, s.cpu_max, s.mem_avg, s.mem_max, s.rx::bigint, s.tx::bigint, s.restarts::bigint, coalesce(r.n, 0)
            FROM steps s LEFT JOIN replicas r USING (k)
            ORDER BY s.k
            """);
        command.Parameters.AddWithValue("subject", subject.Id);
        command.Parameters.AddWithValue("app", subject.AppLabel);
        command.Parameters.AddWithValue("account", subject.AccountId);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        command.Parameters.AddWithValue("hourTo", hourTo);
        command.Parameters.AddWithValue("minuteFrom", minuteFrom);
        command.Parameters.AddWithValue("minuteTo", minuteTo);
        command.Parameters.AddWithValue("rawFrom", rawFrom);
        command.Parameters.AddWithValue("step", window.StepSeconds);
        command.Parameters.AddWithValue("lookback", MetricsSql.Lookback);
        return [.. await command.ReadAllAsync(reader => new MetricsPoint(
            from + reader.GetInt32(0) * window.Step,
            new AvgMax(Math.Round(reader.GetDouble(1), 3), Math.Round(reader.GetDouble(2), 3)),
            new AvgMaxBytes((long)Math.Round(reader.GetDouble(3)), (long)Math.Round(reader.GetDouble(4))),
            reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt32(8)), ct)];
    }

    async Task<(DateTimeOffset? Minutes, DateTimeOffset? Hours)> WatermarksAsync(CancellationToken ct)
    {
        await using var read = dataSource.CreateCommand("SELECT rolled_until, hours_rolled_until FROM a67.metrics_rollup");
        await using var reader = await read.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1)) : (null, null);
    }

    static DateTimeOffset Clamp(DateTimeOffset value, DateTimeOffset low, DateTimeOffset high) => value < low ? low : value > high ? high : value;
}
