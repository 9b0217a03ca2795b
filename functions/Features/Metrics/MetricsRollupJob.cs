using Hangfire;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Metrics;

/// <summary>What one pass of <see cref="MetricsRollupJob"/> did.</summary>
public sealed record RollupPass(
    DateTimeOffset? From, DateTimeOffset RolledUntil, DateTimeOffset HoursRolledUntil, int MinuteRows, int HourRows, long RawDeleted, long MinuteDeleted,
    long HourDeleted, bool Skipped = false);

/// <summary>
/// Metrics retention, a recurring job every <see cref="MetricsOptions.RollupMinutes"/> (one run per tick across
/// processes; a pass still running elsewhere makes another one a no-op, through an advisory lock). Steps:
/// 1. roll raw points up into minute buckets, from the watermark less <see cref="MetricsOptions.RollupLateness"/> to the
///    last complete minute (a minute is complete <see cref="Settle"/> after it ends), <see cref="Batch"/> at a time,
///    each batch one statement (its own transaction); then the watermark moves (a pass that fails leaves it, and the
///    next pass rolls the same minutes again);
/// 2. roll the minute buckets of every hour that is complete and touched up into hour buckets, an hour at a time;
/// 3. delete raw points, minute and hour buckets past their retention (never before they are rolled up), 10,000 rows
///    per statement.
/// Re-entrant and idempotent: every bucket is recomputed whole from its sources and upserted, so rolling a window again
/// writes the same rows.
/// </summary>
public sealed partial class MetricsRollupJob(NpgsqlDataSource dataSource, IOptions<MetricsOptions> options, TimeProvider time, ILogger<MetricsRollupJob> logger)
{
    public const string RecurringJobId = "metrics-retention";

    /// <summary>A minute is rolled up once it ended this long ago: the heartbeats measured in it have been applied.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromMinutes(1);

    /// <summary>Raw time rolled up per transaction, so one pass never holds its locks for long.</summary>
    public static readonly TimeSpan Batch = TimeSpan.FromMinutes(15);

    const int DeleteBatch = 10_000;

    // pg_advisory_lock key: "a67 metrics rollup".
    const long LockKey = 0x6136_376D_6574_7231;

    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>What a container's minute and hour buckets both hold, in the order the rollups select them.</summary>
    const string ContainerColumns = "app, release, replica, samples, cpu_avg, cpu_max, memory_avg, memory_max, memory_limit, network_rx, network_tx, restarts";

    /// <summary>A minute bucket's last sample: where the next minute's deltas start from.</summary>
    const string ContainerLastColumns = "last_at, last_rx, last_tx, last_restart_count, last_started_at";

    const string NodeColumns = "heartbeats, cpu_avg, cpu_max, memory_avg, memory_max, network_rx, network_tx, restarts";

    /// <summary>An upsert's SET list: each column takes the value the rollup computed again.</summary>
    static string Excluded(params string[] columnLists) =>
        string.Join(", ", columnLists.SelectMany(list => list.Split(", ")).Select(column => $"{column} = EXCLUDED.{column}"));

    // The next tick does the same work: a retry would only overlap it.
    [AutomaticRetry(Attempts = 0)]
    public async Task RunAsync(CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var pass = await PassAsync(ct);
        var elapsed = time.GetElapsedTime(started);
        if (!pass.Skipped)
        {
            ControlPlaneMeter.RecordSweep(RecurringJobId, elapsed);
        }

        LogRan(pass.MinuteRows, pass.HourRows, pass.RawDeleted, pass.MinuteDeleted, pass.HourDeleted, pass.RolledUntil, elapsed.TotalMilliseconds);
    }

    /// <summary>One pass: rollups, then retention. Skipped (nothing done) while another process runs one.</summary>
    public async Task<RollupPass> PassAsync(CancellationToken ct)
    {
        await using var lockConnection = await dataSource.OpenConnectionAsync(ct);
        await using (var take = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", lockConnection))
        {
            take.Parameters.AddWithValue("key", LockKey);
            if (await take.ExecuteScalarAsync(ct) is not true)
            {
                return new RollupPass(null, default, default, 0, 0, 0, 0, 0, Skipped: true);
            }
        }

        try
        {
            return await RollUpAndPruneAsync(ct);
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", lockConnection);
            release.Parameters.AddWithValue("key", LockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    async Task<RollupPass> RollUpAndPruneAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var end = Floor(now - Settle, Minute);
        var (rolledUntil, hoursRolledUntil) = await WatermarksAsync(ct);

        DateTimeOffset start;
        if (rolledUntil is { } mark)
        {
            start = Floor(mark - settings.RollupLateness, Minute);
        }
        else
        {
            await using var first = dataSource.CreateCommand("SELECT min(at) FROM a67.container_stats");
            // Npgsql reads timestamptz as a UTC DateTime.
            start = await first.ExecuteScalarAsync(ct) is DateTime oldest ? Floor(new DateTimeOffset(oldest, TimeSpan.Zero), Minute) : end;
        }

        start = Min(start, end);
        var minuteRows = 0;
        for (var from = start; from < end; from += Batch)
        {
            minuteRows += await RollMinutesAsync(from, Min(from + Batch, end), ct);
        }


        // Every hour the minutes touched belong to, and any hour left behind by a pass that failed before its hours.
        var hourRows = 0;
        var hoursFrom = Min(Floor(start, Hour), hoursRolledUntil ?? Floor(start, Hour));
        // Floating-point sums above take their rows in a fixed order, so rolling a window again writes equal values.
        var hoursTo = Floor(end, Hour);
        for (var from = hoursFrom; from < hoursTo; from += Hour)
        {
            hourRows += await RollHourAsync(from, ct);
        }

        await SetWatermarksAsync(end, hoursTo, ct);

        // Retention, never past what is rolled up.
        var rawDeleted = await DeleteAsync("a67.container_stats", "at", Min(now - settings.RawRetention, end), ct);
        var minuteBefore = Min(now - settings.MinuteRetention, hoursTo);
        var minuteDeleted = await DeleteAsync("a67.container_metrics_minute", "bucket", minuteBefore, ct)
            + await DeleteAsync("a67.node_metrics_minute", "bucket", minuteBefore, ct);
        var hourBefore = now - settings.HourRetention;
        var hourDeleted = await DeleteAsync("a67.container_metrics_hour", "bucket", hourBefore, ct)
            + await DeleteAsync("a67.node_metrics_hour", "bucket", hourBefore, ct);
        return new RollupPass(start, end, Max(hoursTo, hoursRolledUntil ?? hoursTo), minuteRows, hourRows, rawDeleted, minuteDeleted, hourDeleted);
    }

    async Task<(DateTimeOffset? Minutes, DateTimeOffset? Hours)> WatermarksAsync(CancellationToken ct)
    {
        await using var read = dataSource.CreateCommand("SELECT rolled_until, hours_rolled_until FROM a67.metrics_rollup");
        await using var reader = await read.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1)) : (null, null);
    }

    async Task SetWatermarksAsync(DateTimeOffset minutes, DateTimeOffset hours, CancellationToken ct)
    {
        // Only forward: a pass with a clock behind another's never moves a watermark back.
        await using var set = dataSource.CreateCommand("""
            INSERT INTO a67.metrics_rollup (rolled_until, hours_rolled_until) VALUES (@minutes, @hours)
            ON CONFLICT (id) DO UPDATE SET rolled_until = greatest(a67.metrics_rollup.rolled_until, @minutes),
                hours_rolled_until = greatest(a67.metrics_rollup.hours_rolled_until, @hours)
            """);
        set.Parameters.AddWithValue("minutes", minutes);
        set.Parameters.AddWithValue("hours", hours);
        await set.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Minute buckets of containers and of nodes (per node and per app on a node) for raw points in [from, to).</summary>
    async Task<int> RollMinutesAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH {MetricsSql.Deltas("true")},
            beats AS (
                SELECT node_id, '' AS app, at, sum(cpu_percent ORDER BY container_id) AS cpu, sum(memory_used) AS mem, sum(rx) AS rx, sum(tx) AS tx, sum(restarts) AS restarts
                FROM x GROUP BY node_id, at
                UNION ALL
                SELECT node_id, app, at, sum(cpu_percent ORDER BY container_id), sum(memory_used), sum(rx), sum(tx), sum(restarts)
                FROM x WHERE app <> '' GROUP BY node_id, app, at
            ),
            containers AS (
                INSERT INTO a67.container_metrics_minute (node_id, container_id, bucket, {ContainerColumns}, {ContainerLastColumns})
                SELECT node_id, container_id, date_bin('1 minute', at, {MetricsSql.Origin}),
                       (array_agg(app ORDER BY at DESC))[1], (array_agg(release ORDER BY at DESC))[1], (array_agg(replica ORDER BY at DESC))[1],
                       count(*), avg(cpu_percent ORDER BY at), max(cpu_percent), avg(memory_used), max(memory_used), max(memory_limit),
                       sum(rx), sum(tx), sum(restarts), max(at),
                       (array_agg(network_rx ORDER BY at DESC))[1], (array_agg(network_tx ORDER BY at DESC))[1],
                       (array_agg(restart_count ORDER BY at DESC))[1], (array_agg(started_at ORDER BY at DESC))[1]
                FROM x GROUP BY node_id, container_id, 3
                ON CONFLICT (node_id, container_id, bucket) DO UPDATE SET {Excluded(ContainerColumns, ContainerLastColumns)}
                RETURNING 1
            ),
            nodes AS (
                INSERT INTO a67.node_metrics_minute (node_id, app, bucket, {NodeColumns})
                SELECT node_id, app, date_bin('1 minute', at, {MetricsSql.Origin}), count(*), avg(cpu ORDER BY at), max(cpu), avg(mem), max(mem), sum(rx), sum(tx), sum(restarts)
                FROM beats GROUP BY node_id, app, 3
                ON CONFLICT (node_id, app, bucket) DO UPDATE SET {Excluded(NodeColumns)}
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM containers) + (SELECT count(*) FROM nodes)
            """);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        command.Parameters.AddWithValue("lookback", MetricsSql.Lookback);
        return (int)(long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Hour buckets of containers and nodes from the minute buckets of [from, from + 1 h).</summary>
    async Task<int> RollHourAsync(DateTimeOffset from, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH containers AS (
                INSERT INTO a67.container_metrics_hour (node_id, container_id, bucket, {ContainerColumns})
                SELECT node_id, container_id, @from,
                       (array_agg(app ORDER BY bucket DESC))[1], (array_agg(release ORDER BY bucket DESC))[1], (array_agg(replica ORDER BY bucket DESC))[1],
                       sum(samples), sum(cpu_avg * samples ORDER BY bucket) / sum(samples), max(cpu_max), sum(memory_avg * samples ORDER BY bucket) / sum(samples), max(memory_max),
                       max(memory_limit), sum(network_rx), sum(network_tx), sum(restarts)
                FROM a67.container_metrics_minute WHERE bucket >= @from AND bucket < @to
                GROUP BY node_id, container_id
                ON CONFLICT (node_id, container_id, bucket) DO UPDATE SET {Excluded(ContainerColumns)}
                RETURNING 1
            ),
            nodes AS (
                INSERT INTO a67.node_metrics_hour (node_id, app, bucket, {NodeColumns})
                SELECT node_id, app, @from, sum(heartbeats), sum(cpu_avg * heartbeats ORDER BY bucket) / sum(heartbeats), max(cpu_max),
                       sum(memory_avg * heartbeats ORDER BY bucket) / sum(heartbeats), max(memory_max), sum(network_rx), sum(network_tx), sum(restarts)
                FROM a67.node_metrics_minute WHERE bucket >= @from AND bucket < @to
                GROUP BY node_id, app
                ON CONFLICT (node_id, app, bucket) DO UPDATE SET {Excluded(NodeColumns)}
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM containers) + (SELECT count(*) FROM nodes)
            """);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", from + Hour);
        return (int)(long)(await command.ExecuteScalarAsync(ct))!;
    }

    async Task<long> DeleteAsync(string table, string column, DateTimeOffset before, CancellationToken ct)
    {
        long deleted = 0;
        while (true)
        {
            await using var delete = dataSource.CreateCommand(
                $"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {column} < @before LIMIT @batch))");
            delete.Parameters.AddWithValue("before", before);
            delete.Parameters.AddWithValue("batch", DeleteBatch);
            var rows = await delete.ExecuteNonQueryAsync(ct);
            deleted += rows;
            if (rows < DeleteBatch)
            {
                return deleted;
            }
        }
    }

    internal static DateTimeOffset Floor(DateTimeOffset at, TimeSpan unit) => new(at.UtcTicks - at.UtcTicks % unit.Ticks, TimeSpan.Zero);

    static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    [LoggerMessage(EventId = 2200, Level = LogLevel.Information,
        Message = "Metrics retention: {MinuteRows} minute and {HourRows} hour rows rolled up, {RawDeleted} raw points, {MinuteDeleted} minute and {HourDeleted} hour rows deleted; rolled up until {RolledUntil} in {ElapsedMs} ms")]
    partial void LogRan(int minuteRows, int hourRows, long rawDeleted, long minuteDeleted, long hourDeleted, DateTimeOffset rolledUntil, double elapsedMs);
}
