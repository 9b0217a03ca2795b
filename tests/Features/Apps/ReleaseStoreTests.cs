using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Audit;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Automator67.Tests.Features.Apps;

/// <summary>ReleaseStore and the V8 tables on the real PostgreSQL: numbering under concurrency, immutability, deletion.</summary>
public sealed class ReleaseStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    static readonly ReleaseSpec Sample = new("127.0.0.1:5000/a67/sample:v1", Env: new Dictionary<string, string> { ["PORT"] = "8080" },
        Ports: [new ReleasePort(8080)], HealthCheck: new ReleaseHealthCheck("http", 8080, "/healthz"));

    readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));

    NpgsqlDataSource DataSource => fixture.Database.DataSource;

    ReleaseStore Releases => new(DataSource, _time);

    AppStore Apps => new(DataSource, new AuditLog(DataSource, _time), _time);

    async Task<App> NewAppAsync(CancellationToken ct)
    {
        var account = Guid.CreateVersion7();
        await using (var insert = DataSource.CreateCommand("INSERT INTO a67.accounts (id, email, role, created_at) VALUES (@id, @email, 'user', now())"))
        {
            insert.Parameters.AddWithValue("id", account);
            insert.Parameters.AddWithValue("email", $"{account:N}@a67.test");
            await insert.ExecuteNonQueryAsync(ct);
        }

        return await Apps.CreateAsync(account, $"app-{account:N}"[..20], new Dictionary<string, string>(), new AuditEvent(AuditTypes.AppCreated, account, account, null, null), ct);
    }

    async Task<Release?> CreateAsync(Guid appId, ReleaseSpec spec, Guid by, CancellationToken ct)
    {
        await using var connection = await DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var release = await Releases.CreateAsync(connection, transaction, appId, spec, by, ct);
        await transaction.CommitAsync(ct);
        return release;
    }

    [Fact]
    public async Task CreateAsync_NumbersConcurrentReleases_OneToTen()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);

        var created = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(() => CreateAsync(app.Id, Sample with { Replicas = i }, app.AccountId, ct), ct)));

        Assert.Equal(Enumerable.Range(1, 10), created.Select(r => r!.Number).Order());
        var listed = await Releases.ListAsync(app.Id, ct, limit: 100);
        Assert.Equal(Enumerable.Range(1, 10).Reverse(), listed.Select(r => r.Number));
        // Each stored spec is the one its create passed: numbers did not get mixed up between transactions.
        Assert.All(created, r => Assert.Equal(r!.Spec.Replicas, listed.Single(l => l.Number == r.Number).Spec.Replicas));
    }

    [Fact]
    public async Task CreateAsync_StoresTheNormalizedSpec_WithItsTimeAndAuthor()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);

        var release = await CreateAsync(app.Id, new ReleaseSpec("127.0.0.1:5000/a67/sample"), app.AccountId, ct);

        var stored = await Releases.GetAsync(app.Id, 1, ct);
        Assert.Equal(release!.Id, stored!.Id);
        Assert.Equal(_time.GetUtcNow(), stored.CreatedAt);
        Assert.Equal(app.AccountId, stored.CreatedBy);
        Assert.Equal(ReleaseSpecJson.Serialize(new ReleaseSpec("127.0.0.1:5000/a67/sample").Normalize()), ReleaseSpecJson.Serialize(stored.Spec));
        await using var raw = DataSource.CreateCommand("SELECT spec ->> 'image', spec -> 'rollout' ->> 'maxSurge', spec -> 'restartPolicy' ->> 'name' FROM a67.releases WHERE id = @id");
        raw.Parameters.AddWithValue("id", release.Id);
        await using var reader = await raw.ExecuteReaderAsync(ct);
        Assert.True(await reader.ReadAsync(ct));
        Assert.Equal(("127.0.0.1:5000/a67/sample:latest", "1", "unless-stopped"), (reader.GetString(0), reader.GetString(1), reader.GetString(2)));
    }

    [Fact]
    public async Task CreateAsync_Refuses_AnInvalidSpec_AndAMissingApp()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);

        var invalid = await Assert.ThrowsAsync<ArgumentException>(() => CreateAsync(app.Id, Sample with { Replicas = -1 }, app.AccountId, ct));
        var missing = await CreateAsync(Guid.CreateVersion7(), Sample, app.AccountId, ct);

        Assert.Contains("replicas", invalid.Message, StringComparison.Ordinal);
        Assert.Null(missing);
        Assert.Empty(await Releases.ListAsync(app.Id, ct));
    }

    [Fact]
    public async Task Releases_AreImmutable_ButColumnsAddedLaterStayWritable()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);
        var release = (await CreateAsync(app.Id, Sample, app.AccountId, ct))!;

        foreach (var change in new[] { "spec = spec || '{\"replicas\":5}'", "number = 7", "created_at = now()", "created_by = gen_random_uuid()", "app_id = gen_random_uuid()" })
        {
            await using var update = DataSource.CreateCommand($"UPDATE a67.releases SET {change} WHERE id = @id");
            update.Parameters.AddWithValue("id", release.Id);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => update.ExecuteNonQueryAsync(ct));
            Assert.Equal(PostgresErrorCodes.IntegrityConstraintViolation, refused.SqlState);
            Assert.Equal($"release 1 of app {app.Id} is immutable", refused.MessageText);
        }

        await using (var addColumn = DataSource.CreateCommand("ALTER TABLE a67.releases ADD COLUMN IF NOT EXISTS note text"))
        {
            await addColumn.ExecuteNonQueryAsync(ct);
        }

        await using var note = DataSource.CreateCommand("UPDATE a67.releases SET note = 'superseded' WHERE id = @id");
        note.Parameters.AddWithValue("id", release.Id);
        Assert.Equal(1, await note.ExecuteNonQueryAsync(ct));
        Assert.Equal(Sample.Normalize().Replicas, (await Releases.GetAsync(app.Id, 1, ct))!.Spec.Replicas);
    }

    [Fact]
    public async Task ListAsync_PagesNewestFirst()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);
        for (var i = 0; i < 5; i++)
        {
            await CreateAsync(app.Id, Sample, app.AccountId, ct);
        }

        Assert.Equal([5, 4], (await Releases.ListAsync(app.Id, ct, limit: 2)).Select(r => r.Number));
        Assert.Equal([3, 2], (await Releases.ListAsync(app.Id, ct, limit: 2, before: 4)).Select(r => r.Number));
        Assert.Equal([1], (await Releases.ListAsync(app.Id, ct, limit: 2, before: 2)).Select(r => r.Number));
        Assert.Null(await Releases.GetAsync(app.Id, 6, ct));
    }

    [Fact]
    public async Task AppDelete_SeesAReleaseCommittedWhileItWaitedForTheLock()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);
        await using var connection = await DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await Releases.CreateAsync(connection, transaction, app.Id, Sample, app.AccountId, ct);

        var delete = Apps.DeleteAsync(app.AccountId, app.Id, new AuditEvent(AuditTypes.AppDeleted, app.AccountId, app.AccountId, null, null), ct);
        await Task.Delay(300, ct);
        Assert.False(delete.IsCompleted); // held by the release's lock on the app
        await transaction.CommitAsync(ct);

        Assert.Equal(AppDeleteOutcome.HasReleases, await delete);
        Assert.NotNull(await Apps.FindAsync(app.AccountId, app.Id, ct));
    }

    [Fact]
    public async Task DeletingAnApp_DeletesItsReleases()
    {
        var ct = TestEnvironment.TimeCap();
        var app = await NewAppAsync(ct);
        await CreateAsync(app.Id, Sample, app.AccountId, ct);

        await using var delete = DataSource.CreateCommand("DELETE FROM a67.apps WHERE id = @id");
        delete.Parameters.AddWithValue("id", app.Id);
        await delete.ExecuteNonQueryAsync(ct);

        Assert.Empty(await Releases.ListAsync(app.Id, ct));
    }
}
