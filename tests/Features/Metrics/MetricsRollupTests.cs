using Automator67.Tests.Features.Apps;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using static Automator67.Tests.Features.Metrics.MetricsData;

namespace Automator67.Tests.Features.Metrics;

/// <summary>MetricsRollupJob on the real PostgreSQL with synthetic raw points and a fake clock.</summary>
[Collection(nameof(MetricsDatabase))]
public sealed class MetricsRollupTests(MigratedDatabaseFixture fixture)
{
    static readonly DateTimeOffset T0 = new(2030, 1, 2, 10, 0, 0, TimeSpan.Zero);

    readonly FakeTimeProvider _time = new(T0);

    MetricsData Data => new(fixture, _time);

    static IEnumerable<Point> Minute(string container, DateTimeOffset minute, Func<int, double> cpu, Func<int, long> memory, string app = "app") =>
        Enumerable.Range(0, 6).Select(i => new Point(container, minute.AddSeconds(10 * i), cpu(i), memory(i), 0, 0, App: app));

    [Fact]
    public async Task Rollup_AveragesAndMaxima_PerContainerPerNodeAndPerApp_ThenPerHour()
    {
        var ct = TestEnvironment.TimeCap();
        await Data.ResetAsync(ct);
        var (_, node) = await Data.NodeAsync(ct);
        await Data.InsertAsync(node, [
            .. Minute("a", T0, i => 10 * (i + 1), i => 100 * (i + 1)),                   // cpu 10..60, memory 100..600
            .. Minute("a", T0.AddMinutes(1), i => 10 * (i + 7), i => 100 * (i + 7)),     // cpu 70..120, memory 700..1200
            .. Minute("b", T0, _ => 5, _ => 1000, app: "other"),
        ], ct);

        _time.SetUtcNow(T0.AddMinutes(5));
        var pass = await Data.Job.PassAsync(ct);

        Assert.Equal(T0.AddMinutes(4), pass.RolledUntil);
        var a = await Data.RowAsync("SELECT * FROM a67.container_metrics_minute WHERE container_id = 'a' AND bucket = @b", ct, ("b", T0));
        Assert.Equal(6, a["samples"]);
        Assert.Equal(35.0, (double)a["cpu_avg"], 6);
        Assert.Equal(60.0, a["cpu_max"]);
        Assert.Equal(350.0, (double)a["memory_avg"], 6);
        Assert.Equal(600L, a["memory_max"]);
        Assert.Equal("app", a["app"]);
        var total = await Data.RowAsync("SELECT * FROM a67.node_metrics_minute WHERE node_id = @n AND app = '' AND bucket = @b", ct, ("n", node), ("b", T0));
        Assert.Equal(6, total["heartbeats"]);
        Assert.Equal(40.0, (double)total["cpu_avg"], 6);        // 35 + 5: the node's total per heartbeat, averaged
        Assert.Equal(65.0, (double)total["cpu_max"], 6);        // the highest total of one heartbeat
        Assert.Equal(1350.0, (double)total["memory_avg"], 6);
        Assert.Equal(1600L, total["memory_max"]);
        var app = await Data.RowAsync("SELECT * FROM a67.node_metrics_minute WHERE node_id = @n AND app = 'app' AND bucket = @b", ct, ("n", node), ("b", T0));
        Assert.Equal(35.0, (double)app["cpu_avg"], 6);
        Assert.Equal(0L, await Data.CountAsync("SELECT count(*) FROM a67.container_metrics_hour", ct));   // the hour is not complete yet

        _time.SetUtcNow(T0.AddHours(1).AddMinutes(5));
        await Data.Job.PassAsync(ct);
        var hour = await Data.RowAsync("SELECT * FROM a67.container_metrics_hour WHERE container_id = 'a' AND bucket = @b", ct, ("b", T0));
        Assert.Equal(12, hour["samples"]);
        Assert.Equal(65.0, (double)hour["cpu_avg"], 6);
        Assert.Equal(120.0, hour["cpu_max"]);
        Assert.Equal(650.0, (double)hour["memory_avg"], 6);
        Assert.Equal(1200L, hour["memory_max"]);
        var nodeHour = await Data.RowAsync("SELECT * FROM a67.node_metrics_hour WHERE node_id = @n AND app = '' AND bucket = @b", ct, ("n", node), ("b", T0));
        Assert.Equal(12, nodeHour["heartbeats"]);
        Assert.Equal(67.5, (double)nodeHour["cpu_avg"], 6);      // (40 × 6 + 95 × 6) / 12: b ran in the first minute only
        Assert.Equal(120.0, (double)nodeHour["cpu_max"], 6);
    }

    [Fact]
    public async Task Rollup_NetworkDeltasAndRestarts_AcrossACounterReset_AndFromTheLastMinuteWhenRawIsGone()
    {
        var ct = TestEnvironment.TimeCap();
        await Data.ResetAsync(ct);
        var (_, node) = await Data.NodeAsync(ct);
        var started = T0.AddMinutes(-30);
        var restarted = T0.AddSeconds(75);
        await Data.InsertAsync(node, [
            new Point("c", T0, 1, 1, 1000, 10, 0, started),
            new Point("c", T0.AddSeconds(20), 1, 1, 1500, 20, 0, started),
            new Point("c", T0.AddSeconds(40), 1, 1, 2500, 30, 0, started),
            new Point("c", T0.AddSeconds(60), 1, 1, 3000, 40, 0, started),
            new Point("c", T0.AddSeconds(80), 1, 1, 100, 5, 1, restarted),   // restarted: counters from zero, RestartCount 1
            new Point("c", T0.AddSeconds(100), 1, 1, 400, 9, 1, restarted),
            // No start time known: a counter that goes down is a reset too.
            new Point("d", T0, 1, 1, 500, 0),
            new Point("d", T0.AddSeconds(20), 1, 1, 700, 0),
            new Point("d", T0.AddSeconds(40), 1, 1, 50, 0),
        ], ct);

        _time.SetUtcNow(T0.AddMinutes(5));
        await Data.Job.PassAsync(ct);

        var first = await Data.RowAsync("SELECT * FROM a67.container_metrics_minute WHERE container_id = 'c' AND bucket = @b", ct, ("b", T0));
        Assert.Equal(2500L, first["network_rx"]);   // 1000 counted since the container started, then +500, +1000
        Assert.Equal(30L, first["network_tx"]);
        Assert.Equal(0, first["restarts"]);
        var second = await Data.RowAsync("SELECT * FROM a67.container_metrics_minute WHERE container_id = 'c' AND bucket = @b", ct, ("b", T0.AddMinutes(1)));
        Assert.Equal(900L, second["network_rx"]);   // +500, then 100 after the restart, then +300
        Assert.Equal(19L, second["network_tx"]);
        Assert.Equal(1, second["restarts"]);
        Assert.Equal(400L, second["last_rx"]);
        var d = await Data.RowAsync("SELECT * FROM a67.container_metrics_minute WHERE container_id = 'd' AND bucket = @b", ct, ("b", T0));
        Assert.Equal(750L, d["network_rx"]);        // 500 + 200 + 50
        Assert.Equal(1, d["restarts"]);
        var total = await Data.RowAsync("SELECT * FROM a67.node_metrics_minute WHERE node_id = @n AND app = '' AND bucket = @b", ct, ("n", node), ("b", T0));
        Assert.Equal(3250L, total["network_rx"]);

        // Later points whose raw predecessor is past the lookback (or gone): the minute bucket's last counters stand in.
        await using (var drop = Data.DataSource.CreateCommand("DELETE FROM a67.container_stats WHERE container_id = 'c'"))
        {
            await drop.ExecuteNonQueryAsync(ct);
        }

        await Data.InsertAsync(node, [new Point("c", T0.AddMinutes(10), 1, 1, 1000, 20, 1, restarted)], ct);
        _time.SetUtcNow(T0.AddMinutes(15));
        await Data.Job.PassAsync(ct);
        var later = await Data.RowAsync("SELECT * FROM a67.container_metrics_minute WHERE container_id = 'c' AND bucket = @b", ct, ("b", T0.AddMinutes(10)));
        Assert.Equal(600L, later["network_rx"]);
        Assert.Equal(11L, later["network_tx"]);
        Assert.Equal(0, later["restarts"]);
    }

    [Fact]
    public async Task Rollup_RunAgain_WritesTheSameRows_AlsoFromScratch()
    {
        var ct = TestEnvironment.TimeCap();
        await Data.ResetAsync(ct);
        var (_, node) = await Data.NodeAsync(ct);
        var random = new Random(6);
        long rx = 0;
        await Data.InsertAsync(node, Enumerable.Range(0, 3 * 360).Select(i =>
        {
            rx = i % 500 == 499 ? 10 : rx + random.Next(0, 5000);
            return new Point($"c{i % 3}", T0.AddSeconds(10 * (i / 3)), random.NextDouble() * 100, random.Next(1, 1 << 30), rx, rx / 2, i / 500);
        }), ct);
        string[] tables = ["a67.container_metrics_minute", "a67.container_metrics_hour", "a67.node_metrics_minute", "a67.node_metrics_hour"];

        _time.SetUtcNow(T0.AddHours(2));
        await Data.Job.PassAsync(ct);
        var first = new List<List<string>>();
        foreach (var table in tables)
        {
            first.Add(await Data.RowsAsync(table, ct));
        }

        Assert.Equal(3 * 60, first[0].Count);
        Assert.Equal(3, first[1].Count);

        await Data.Job.PassAsync(ct);
        await using (var forget = Data.DataSource.CreateCommand("DELETE FROM a67.metrics_rollup"))
        {
            await forget.ExecuteNonQueryAsync(ct);
        }

        await Data.Job.PassAsync(ct);
        for (var i = 0; i < tables.Length; i++)
        {
            Assert.Equal(first[i], await Data.RowsAsync(tables[i], ct));
        }
    }

    [Fact]
    public async Task Retention_DeletesExactlyWhatIsPastItsRetention_AfterRollingItUp()
    {
        var ct = TestEnvironment.TimeCap();
        await Data.ResetAsync(ct);
        var (_, node) = await Data.NodeAsync(ct);
        var now = new DateTimeOffset(2030, 1, 20, 12, 0, 0, TimeSpan.Zero);
        _time.SetUtcNow(now);
        await Data.InsertAsync(node, [new Point("old", now.AddHours(-25), 1, 1, 1, 1), new Point("new", now.AddHours(-23), 1, 1, 1, 1)], ct);
        await using (var plant = Data.DataSource.CreateCommand("""
            INSERT INTO a67.container_metrics_minute (node_id, container_id, bucket, app, release, replica, samples, cpu_avg, cpu_max, memory_avg, memory_max,
                memory_limit, network_rx, network_tx, restarts, last_at, last_rx, last_tx, last_restart_count)
            SELECT @node, 'planted', b, 'app', '1', 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, b, 0, 0, 0 FROM unnest(@minutes) AS b;
            INSERT INTO a67.node_metrics_minute (node_id, app, bucket, heartbeats, cpu_avg, cpu_max, memory_avg, memory_max, network_rx, network_tx, restarts)
            SELECT @node, '', b, 1, 1, 1, 1, 1, 0, 0, 0 FROM unnest(@minutes) AS b;
            INSERT INTO a67.container_metrics_hour (node_id, container_id, bucket, app, release, replica, samples, cpu_avg, cpu_max, memory_avg, memory_max,
                memory_limit, network_rx, network_tx, restarts)
            SELECT @node, 'planted', b, 'app', '1', 0, 1, 1, 1, 1, 1, 1, 0, 0, 0 FROM unnest(@hours) AS b;
            INSERT INTO a67.node_metrics_hour (node_id, app, bucket, heartbeats, cpu_avg, cpu_max, memory_avg, memory_max, network_rx, network_tx, restarts)
            SELECT @node, '', b, 1, 1, 1, 1, 1, 0, 0, 0 FROM unnest(@hours) AS b;
            """))
        {
            plant.Parameters.AddWithValue("node", node);
            plant.Parameters.AddWithValue("minutes", new[] { now.AddDays(-8), now.AddDays(-6) });
            plant.Parameters.AddWithValue("hours", new[] { now.AddDays(-91), now.AddDays(-89) });
            await plant.ExecuteNonQueryAsync(ct);
        }

        var pass = await Data.Job.PassAsync(ct);

        Assert.Equal(1, pass.RawDeleted);
        Assert.Equal(2, pass.MinuteDeleted);   // the planted container's and node's minute at -8 days
        Assert.Equal(2, pass.HourDeleted);
        Assert.Equal(["new"], await Strings("SELECT container_id FROM a67.container_stats", ct));
        // The deleted raw point was rolled up first: its minute and hour stay.
        Assert.Equal(1L, await Data.CountAsync("SELECT count(*) FROM a67.container_metrics_minute WHERE container_id = 'old'", ct));
        Assert.Equal(1L, await Data.CountAsync("SELECT count(*) FROM a67.container_metrics_hour WHERE container_id = 'old'", ct));
        Assert.Equal([now.AddDays(-6)], await Times("SELECT bucket FROM a67.container_metrics_minute WHERE container_id = 'planted'", ct));
        Assert.Equal([now.AddDays(-6)], await Times("SELECT bucket FROM a67.node_metrics_minute WHERE bucket < @now - interval '2 days'", ct, now));
        Assert.Equal([now.AddDays(-89)], await Times("SELECT bucket FROM a67.container_metrics_hour WHERE container_id = 'planted'", ct));
        Assert.Equal([now.AddDays(-89)], await Times("SELECT bucket FROM a67.node_metrics_hour WHERE bucket < @now - interval '30 days'", ct, now));
    }

    async Task<List<string>> Strings(string sql, CancellationToken ct)
    {
        await using var read = Data.DataSource.CreateCommand(sql);
        var values = new List<string>();
        await using var reader = await read.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    async Task<List<DateTimeOffset>> Times(string sql, CancellationToken ct, DateTimeOffset? now = null)
    {
        await using var read = Data.DataSource.CreateCommand(sql);
        if (now is { } at)
        {
            read.Parameters.AddWithValue("now", at);
        }

        var values = new List<DateTimeOffset>();
        await using var reader = await read.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            values.Add(reader.GetFieldValue<DateTimeOffset>(0));
        }

        return values;
    }
}

/// <summary>One migrated database for the metrics tests that work on the whole of it, run one after another.</summary>
[CollectionDefinition(nameof(MetricsDatabase))]
public sealed class MetricsDatabase : ICollectionFixture<MigratedDatabaseFixture>;
