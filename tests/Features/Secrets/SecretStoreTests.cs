using System.Text;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Secrets;
using Automator67.Tests.Features.Apps;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// Secrets at rest on the real database, with the KEK from a local key file and from Key Vault (the real
/// <see cref="Azure.Security.KeyVault.Secrets.SecretClient"/> against <see cref="KeyVaultStandIn"/> over HTTPS):
/// rotation keeps every secret readable; altered and moved ciphertexts fail closed and are audited.
/// </summary>
public sealed class SecretStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    readonly string _keyDirectory = Directory.CreateTempSubdirectory("a67-secrets-").FullName;
    readonly KeyVaultStandIn _vault = new();

    NpgsqlDataSource DataSource => fixture.Database.DataSource;

    public async ValueTask InitializeAsync() => await _vault.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _vault.DisposeAsync();
        Directory.Delete(_keyDirectory, recursive: true);
    }

    public static TheoryData<string> Sources => ["file", "vault"];

    [Theory]
    [MemberData(nameof(Sources))]
    public async Task Rotate_KeepsEverySecretReadable_AndRewrapMovesThemAllToTheNewKek(string source)
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        await ResetKeyStateAsync(ct);
        var (store, keks, rewrap) = Parts(source, batch: 7);
        var account = await AccountAsync(ct);
        var apps = new[] { await AppAsync(account, ct), await AppAsync(account, ct) };
        var written = new Dictionary<(Guid, string), string>();
        for (var i = 0; i < 25; i++)
        {
            var app = apps[i % 2];
            var value = $"value-{i}-{Guid.NewGuid():N}";
            await store.PutAsync(account, app, $"S_{i}", Encoding.UTF8.GetBytes(value), account, Audit(AuditTypes.SecretWritten, account), ct);
            written[(app, $"S_{i}")] = value;
        }

        string before, after;
        await using (var connection = await DataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            before = (await keks.ActiveAsync(connection, transaction, ct)).Id;
            (_, after) = await keks.RotateAsync(connection, transaction, ct);
            await transaction.CommitAsync(ct);
        }

        Assert.NotEqual(before, after);
        // Between the rotation and the rewrap: everything still reads (the old version stays readable), and new writes use the new KEK.
        await AssertReadableAsync(store, account, written, ct);
        await store.PutAsync(account, apps[0], "S_NEW", "new"u8.ToArray(), account, Audit(AuditTypes.SecretWritten, account), ct);
        written[(apps[0], "S_NEW")] = "new";
        Assert.Equal(25, await CountOnKekAsync(before, ct));

        var (rewrapped, failed) = await rewrap.RunAsync(ct);

        Assert.Equal((25, 0), (rewrapped, failed));
        Assert.Equal(0, await CountOnKekAsync(before, ct));
        Assert.Equal(26, await CountOnKekAsync(after, ct));
        await AssertReadableAsync(store, account, written, ct);
        // A fresh process (nothing cached) reads them too, from the source.
        await AssertReadableAsync(Parts(source, batch: 7).Store, account, written, ct);
        if (source == "vault")
        {
            Assert.Equal(2, _vault.Versions("a67-secrets-kek").Count);
        }
    }

    [Fact]
    public async Task Read_FailsClosedAndAudits_WhenTheCiphertextIsAlteredOrMovedToAnotherSecret()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        await ResetKeyStateAsync(ct);
        var (store, _, _) = Parts("file", batch: 10);
        var account = await AccountAsync(ct);
        var app = await AppAsync(account, ct);
        foreach (var name in new[] { "ALTERED", "SOURCE", "TARGET" })
        {
            await store.PutAsync(account, app, name, Encoding.UTF8.GetBytes($"value of {name}"), account, Audit(AuditTypes.SecretWritten, account), ct);
        }

        await ExecuteAsync("UPDATE a67.secrets SET ciphertext = overlay(ciphertext placing '\\xff'::bytea from 14 for 1) WHERE app_id = @app AND name = 'ALTERED'", app, ct);
        await ExecuteAsync("""
            UPDATE a67.secrets t SET kek_id = s.kek_id, wrapped_key = s.wrapped_key, ciphertext = s.ciphertext, version = s.version
            FROM a67.secrets s WHERE s.app_id = @app AND s.name = 'SOURCE' AND t.app_id = @app AND t.name = 'TARGET'
            """, app, ct);

        await using var connection = await DataSource.OpenConnectionAsync(ct);
        var altered = await Assert.ThrowsAsync<SecretUnreadableException>(() => store.ReadAsync(connection, null, account, SecretIdentity.App, app, ["ALTERED"], ct));
        var moved = await Assert.ThrowsAsync<SecretUnreadableException>(() => store.ReadAsync(connection, null, account, SecretIdentity.App, app, ["TARGET"], ct));
        var intact = await store.ReadAsync(connection, null, account, SecretIdentity.App, app, ["SOURCE"], ct);

        Assert.Equal("ALTERED", altered.Name);
        Assert.Equal("TARGET", moved.Name);
        Assert.Equal("value of SOURCE", Encoding.UTF8.GetString(intact["SOURCE"]));
        await using var audit = new NpgsqlCommand("SELECT detail->>'name' FROM a67.audit_events WHERE type = 'secret.decrypt_failed' AND account_id = @account ORDER BY id", connection);
        audit.Parameters.AddWithValue("account", account);
        var audited = new List<string>();
        await using (var reader = await audit.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                audited.Add(reader.GetString(0));
            }
        }

        Assert.Equal(["ALTERED", "TARGET"], audited);
    }

    [Fact]
    public async Task KeyVault_RunsTheChallengeFlow_AndAnUnreachableVaultIsKeyUnavailable_UntilItIsBack()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        await ResetKeyStateAsync(ct);
        var credential = _vault.Credential;
        var (store, _, _) = Parts("vault", batch: 10, credential);
        var account = await AccountAsync(ct);
        var app = await AppAsync(account, ct);

        await store.PutAsync(account, app, "TOKEN", "over https"u8.ToArray(), account, Audit(AuditTypes.SecretWritten, account), ct);

        // The SDK's own flow: a first request without a token, Key Vault's 401 challenge, a token for the challenge's resource.
        Assert.True(_vault.Challenges >= 1);
        Assert.True(_vault.Authorized >= 2, $"{_vault.Authorized} authorized requests");
        Assert.Contains(credential.Requests, r => r.Scopes.SequenceEqual([$"{KeyVaultStandIn.Resource}/.default"]) && r.TenantId == KeyVaultStandIn.Tenant);
        Assert.Single(_vault.Versions("a67-secrets-kek"));

        await _vault.StopAsync();
        var (cold, _, _) = Parts("vault", batch: 10, timeout: TimeSpan.FromSeconds(2));
        await using (var connection = await DataSource.OpenConnectionAsync(ct))
        {
            var away = await Assert.ThrowsAsync<KeyUnavailableException>(() => cold.ReadAsync(connection, null, account, SecretIdentity.App, app, ["TOKEN"], ct));
            Assert.Contains("Key Vault", away.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<KeyUnavailableException>(() => cold.PutAsync(account, app, "OTHER", "x"u8.ToArray(), account, Audit(AuditTypes.SecretWritten, account), ct));
            Assert.Null(await ScalarAsync(connection, "SELECT name FROM a67.secrets WHERE app_id = @app AND name = 'OTHER'", app, ct));

            await _vault.StartAsync();
            Assert.Equal("over https", Encoding.UTF8.GetString((await cold.ReadAsync(connection, null, account, SecretIdentity.App, app, ["TOKEN"], ct))["TOKEN"]));
        }
    }

    [Fact]
    public async Task KeyFile_MadeAnewAfterTheOldOneIsLost_IsKeyUnavailable_NeverPassedOffAsTheLostKey()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(30));
        await ResetKeyStateAsync(ct);
        var (store, _, _) = Parts("file", batch: 10);
        var account = await AccountAsync(ct);
        var app = await AppAsync(account, ct);
        await store.PutAsync(account, app, "KEPT", "x"u8.ToArray(), account, Audit(AuditTypes.SecretWritten, account), ct);

        File.Delete(Path.Combine(_keyDirectory, "kek.json"));
        var (fresh, _, _) = Parts("file", batch: 10);
        await using var connection = await DataSource.OpenConnectionAsync(ct);
        var lost = await Assert.ThrowsAsync<KeyUnavailableException>(() => fresh.ReadAsync(connection, null, account, SecretIdentity.App, app, ["KEPT"], ct));

        Assert.Contains("is not in the key file", lost.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync(connection, "SELECT count(*) FROM a67.audit_events WHERE type = 'secret.decrypt_failed' AND detail->>'appId' = @app::text", app, ct));
    }

    (SecretStore Store, KeyEncryptionKeys Keks, SecretRewrap Rewrap) Parts(string source, int batch, StandInCredential? credential = null, TimeSpan? timeout = null)
    {
        var options = Options.Create(new SecretsOptions { KeyFile = Path.Combine(_keyDirectory, "kek.json"), RewrapBatchSize = batch });
        IKeyEncryptionKeySource keySource = source == "file"
            ? new LocalKeyFileSource(options, new HostEnvironment(_keyDirectory))
            : new KeyVaultKeySource(_vault.CreateClient(credential ?? _vault.Credential, timeout), options.Value.KeyVaultSecretName);
        var keks = new KeyEncryptionKeys(keySource, TimeProvider.System);
        var audit = new AuditLog(DataSource, TimeProvider.System);
        var store = new SecretStore(DataSource, keks, audit, TimeProvider.System, NullLogger<SecretStore>.Instance);
        return (store, keks, new SecretRewrap(DataSource, keks, store, options, NullLogger<SecretRewrap>.Instance));
    }

    async Task AssertReadableAsync(SecretStore store, Guid account, Dictionary<(Guid App, string Name), string> written, CancellationToken ct)
    {
        await using var connection = await DataSource.OpenConnectionAsync(ct);
        foreach (var group in written.GroupBy(w => w.Key.App))
        {
            var values = await store.ReadAsync(connection, null, account, SecretIdentity.App, group.Key, [.. group.Select(g => g.Key.Name)], ct);
            foreach (var ((_, name), value) in group)
            {
                Assert.Equal(value, Encoding.UTF8.GetString(values[name]));
            }
        }
    }

    // Each test starts from no KEK state: the file and vault sources of one database must not read each other's versions.
    async Task ResetKeyStateAsync(CancellationToken ct)
    {
        await using var command = DataSource.CreateCommand("DELETE FROM a67.secrets; DELETE FROM a67.secret_key_state;");
        await command.ExecuteNonQueryAsync(ct);
    }

    async Task<long> CountOnKekAsync(string kek, CancellationToken ct)
    {
        await using var command = DataSource.CreateCommand("SELECT count(*) FROM a67.secrets WHERE kek_id = @kek");
        command.Parameters.AddWithValue("kek", kek);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    async Task ExecuteAsync(string sql, Guid app, CancellationToken ct)
    {
        await using var command = DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("app", app);
        Assert.Equal(1, await command.ExecuteNonQueryAsync(ct));
    }

    static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, Guid app, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("app", app);
        return await command.ExecuteScalarAsync(ct);
    }

    async Task<Guid> AccountAsync(CancellationToken ct)
    {
        var id = Guid.NewGuid();
        await using var insert = DataSource.CreateCommand("INSERT INTO a67.accounts (id, email, role, created_at) VALUES (@id, @email, 'user', now())");
        insert.Parameters.AddWithValue("id", id);
        insert.Parameters.AddWithValue("email", $"{id:N}@a67.test");
        await insert.ExecuteNonQueryAsync(ct);
        return id;
    }

    async Task<Guid> AppAsync(Guid account, CancellationToken ct)
    {
        var id = Guid.NewGuid();
        await using var insert = DataSource.CreateCommand("INSERT INTO a67.apps (id, account_id, name, created_at) VALUES (@id, @account, @name, now())");
        insert.Parameters.AddWithValue("id", id);
        insert.Parameters.AddWithValue("account", account);
        insert.Parameters.AddWithValue("name", $"app-{id:N}"[..20]);
        await insert.ExecuteNonQueryAsync(ct);
        return id;
    }

    static AuditEvent Audit(string type, Guid account) => new(type, account, account, null, null);

    sealed class HostEnvironment(string root) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Test";
        public string ApplicationName { get; set; } = "tests";
        public string ContentRootPath { get; set; } = root;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }
}
