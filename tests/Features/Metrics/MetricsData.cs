using Automator67.Functions.Features.Metrics;
using Automator67.Tests.Features.Apps;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Automator67.Tests.Features.Metrics;

/// <summary>Synthetic container stats on a migrated database: a node of a fresh account, and raw points as heartbeats write them.</summary>
public sealed class MetricsData(MigratedDatabaseFixture fixture, FakeTimeProvider time)
{
    public NpgsqlDataSource DataSource => fixture.Database.DataSource;

    public MetricsOptions Options { get; } = new();

    public MetricsRollupJob Job => new(DataSource, Microsoft.Extensions.Options.Options.Create(Options), time, NullLogger<MetricsRollupJob>.Instance);

    public MetricsQuery Query => new(DataSource);

    /// <summary>Every metrics row and the watermark gone, so each test starts from nothing (the rollup works on the whole database).</summary>
    public async Task ResetAsync(CancellationToken ct)
    {
        await using var reset = DataSource.CreateCommand("""
            TRUNCATE a67.container_stats, a67.container_metrics_minute, a67.container_metrics_hour, a67.node_metrics_minute, a67.node_metrics_hour,
                a67.metrics_rollup
            """);
        await reset.ExecuteNonQueryAsync(ct);
    }

    public async Task<(Guid Account, Guid Node)> NodeAsync(CancellationToken ct)
    {
        var account = Guid.CreateVersion7();
        var node = Guid.CreateVersion7();
        await using var insert = DataSource.CreateCommand("""
            INSERT INTO a67.accounts (id, email, role, created_at) VALUES (@account, @email, 'user', now());
            INSERT INTO a67.nodes (id, account_id, name, public_key, facts, enrolled_at, credential_expires_at)
            VALUES (@node, @account, @name, '\x00', '{}', now(), now() + interval '1 day');
            """);
        insert.Parameters.AddWithValue("account", account);
        insert.Parameters.AddWithValue("email", $"{account:N}@a67.test");
        insert.Parameters.AddWithValue("node", node);
        insert.Parameters.AddWithValue("name", $"node-{node:N}"[..20]);
        await insert.ExecuteNonQueryAsync(ct);
        return (account, node);
    }

    public async Task<Guid> AppAsync(Guid account, CancellationToken ct)
    {
        var app = Guid.CreateVersion7();
        await using var insert = DataSource.CreateCommand("INSERT INTO a67.apps (id, account_id, name, created_at) VALUES (@id, @account, @name, now())");
        insert.Parameters.AddWithValue("id", app);
        insert.Parameters.AddWithValue("account", account);
        insert.Parameters.AddWithValue("name", $"app-{app:N}"[..20]);
        await insert.ExecuteNonQueryAsync(ct);
        return app;
    }

    public sealed record Point(string Container, DateTimeOffset At, double Cpu, long Memory, long Rx, long Tx, int Restarts = 0, DateTimeOffset? StartedAt = null,
        string App = "app", string Release = "1", int Replica = 0);

    public async Task InsertAsync(Guid node, IEnumerable<Point> points, CancellationToken ct)
    {
        var rows = points.ToArray();
        await using var insert = DataSource.CreateCommand("""
            INSERT INTO a67.container_stats (node_id, container_id, app, release, replica, at, cpu_percent, memory_used, memory_limit, network_rx, network_tx,
                                             restart_count, started_at)
            SELECT @node, s.container, s.app, s.release, s.replica, s.at, s.cpu, s.mem, 1073741824, s.rx, s.tx, s.restarts, s.started
            FROM unnest(@containers, @apps, @releases, @replicas, @at, @cpu, @mem, @rx, @tx, @restarts, @started)
                AS s (container, app, release, replica, at, cpu, mem, rx, tx, restarts, started)
            """);
        insert.Parameters.AddWithValue("node", node);
        insert.Parameters.AddWithValue("containers", rows.Select(r => r.Container).ToArray());
        insert.Parameters.AddWithValue("apps", rows.Select(r => r.App).ToArray());
        insert.Parameters.AddWithValue("releases", rows.Select(r => r.Release).ToArray());
        insert.Parameters.AddWithValue("replicas", rows.Select(r => r.Replica).ToArray());
        insert.Parameters.AddWithValue("at", rows.Select(r => r.At).ToArray());
        insert.Parameters.AddWithValue("cpu", rows.Select(r => r.Cpu).ToArray());
        insert.Parameters.AddWithValue("mem", rows.Select(r => r.Memory).ToArray());
        insert.Parameters.AddWithValue("rx", rows.Select(r => r.Rx).ToArray());
        insert.Parameters.AddWithValue("tx", rows.Select(r => r.Tx).ToArray());
        insert.Parameters.AddWithValue("restarts", rows.Select(r => r.Restarts).ToArray());
        insert.Parameters.Add(new NpgsqlParameter("started", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.TimestampTz)
        {
            Value = rows.Select(r => r.StartedAt).ToArray(),
        });
        await insert.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Rows of a table as text, in key order: what two runs must agree on.</summary>
    public async Task<List<string>> RowsAsync(string table, CancellationToken ct)
    {
        await using var read = DataSource.CreateCommand($"SELECT t::text FROM {table} t ORDER BY 1");
        var rows = new List<string>();
        await using var reader = await read.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    public async Task<Dictionary<string, object>> RowAsync(string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var read = DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            read.Parameters.AddWithValue(name, value);
        }

        await using var reader = await read.ExecuteReaderAsync(ct);
        Assert.True(await reader.ReadAsync(ct), $"no row for {sql}");
        return Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, reader.GetValue);
    }

    public async Task<long> CountAsync(string sql, CancellationToken ct)
    {
        await using var count = DataSource.CreateCommand(sql);
        return (long)(await count.ExecuteScalarAsync(ct))!;
    }
}
