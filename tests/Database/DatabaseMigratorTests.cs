using Automator67.Functions.Database;
using Automator67.Orchestrations.Runtime;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Tests.Database;

public sealed class DatabaseMigratorTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    static DatabaseMigrator NewMigrator(NpgsqlDataSource dataSource, DatabaseState? state = null) => new(
        dataSource,
        state ?? new DatabaseState(),
        Options.Create(new OrchestrationOptions()),
        TimeProvider.System,
        NullLogger<DatabaseMigrator>.Instance);

    [Fact]
    public async Task MigrateAsync_AppliesEveryMigrationOnce_AndHangfireSchema()
    {
        var ct = TestEnvironment.TimeCap();

        var first = await NewMigrator(database.DataSource).MigrateAsync(ct);
        var second = await NewMigrator(database.DataSource).MigrateAsync(ct);

        Assert.True(first >= 1, $"a fresh database should get at least V1, got {first}");
        Assert.Equal(0, second);
        await using var versions = database.DataSource.CreateCommand(
            "SELECT string_agg(version, ',' ORDER BY id) FROM a67.changelog WHERE type = 0 AND success");
        Assert.StartsWith("1", (string)(await versions.ExecuteScalarAsync(ct))!, StringComparison.Ordinal);
        await using var objects = database.DataSource.CreateCommand(
            "SELECT to_regproc('a67.set_updated_at') IS NOT NULL AND to_regclass('hangfire.job') IS NOT NULL");
        Assert.True((bool)(await objects.ExecuteScalarAsync(ct))!);
    }

    [Fact]
    public async Task MigrateAsync_Succeeds_WhenSeveralProcessesStartAtOnce()
    {
        var ct = TestEnvironment.TimeCap();
        await using var fresh = new DatabaseFixture();
        await fresh.InitializeAsync();

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => NewMigrator(fresh.DataSource).MigrateAsync(ct)));

        Assert.Equal(1, results.Count(applied => applied > 0));
    }

    [Fact]
    public async Task MigrateAsync_AppliesAnEarlierVersion_ThatLandedAfterALaterOne()
    {
        // A database that got V5 before V4 was merged (features land from parallel branches).
        var ct = TestEnvironment.TimeCap();
        await using var fresh = new DatabaseFixture();
        await fresh.InitializeAsync();
        await NewMigrator(fresh.DataSource).MigrateAsync(ct);
        await using (var unapply = fresh.DataSource.CreateCommand("""
            DROP TABLE a67.two_factor_challenges, a67.two_factor_backup_codes, a67.two_factor;
            DELETE FROM a67.changelog WHERE version = '4';
            """))
        {
            await unapply.ExecuteNonQueryAsync(ct);
        }

        var applied = await NewMigrator(fresh.DataSource).MigrateAsync(ct);

        Assert.Equal(1, applied);
        await using var check = fresh.DataSource.CreateCommand("SELECT to_regclass('a67.two_factor') IS NOT NULL");
        Assert.True((bool)(await check.ExecuteScalarAsync(ct))!);
    }

    [Fact]
    public async Task ExecuteAsync_StopsRetrying_AndSaysWhy_WhenAnAppliedMigrationWasEdited()
    {
        var ct = TestEnvironment.TimeCap();
        await using var fresh = new DatabaseFixture();
        await fresh.InitializeAsync();
        await NewMigrator(fresh.DataSource).MigrateAsync(ct);
        await using (var tamper = fresh.DataSource.CreateCommand("UPDATE a67.changelog SET checksum = 'edited' WHERE version = '1'"))
        {
            await tamper.ExecuteNonQueryAsync(ct);
        }

        var state = new DatabaseState();
        using var migrator = NewMigrator(fresh.DataSource, state);
        await migrator.StartAsync(ct);
        await migrator.ExecuteTask!.WaitAsync(ct);

        Assert.False(state.IsReady);
        Assert.StartsWith("database migration failed: ", state.Problem, StringComparison.Ordinal);
        Assert.Contains("checksum", state.Problem, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ExecuteAsync_KeepsRetrying_AndSaysWhy_WhenDatabaseUnreachable()
    {
        var ct = TestEnvironment.TimeCap();
        var closedPort = ProductProcess.FreePort();
        await using var unreachable = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={closedPort};Username=x;Password=y;Timeout=2");
        var state = new DatabaseState();
        using var migrator = NewMigrator(unreachable, state);

        await migrator.StartAsync(ct);
        while (!state.Problem.StartsWith("database unreachable", StringComparison.Ordinal))
        {
            await Task.Delay(50, ct);
        }

        Assert.False(state.IsReady);
        Assert.Contains("refused", state.Problem, StringComparison.OrdinalIgnoreCase);
        await migrator.StopAsync(ct);
    }
}
