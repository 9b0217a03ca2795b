using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Secrets;
using Npgsql;

namespace Automator67.Functions.Features.Registries;

public sealed record Registry(Guid Id, Guid AccountId, string Name, string Server, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// Registry credentials of an account. The row names the registry and its server; the username and password are one
/// secret of the registry (<see cref="CredentialsSecret"/>, JSON of <see cref="RegistryCredentials"/>), encrypted like
/// any app secret. Writes are audited in their transaction.
/// </summary>
public sealed class RegistryStore(NpgsqlDataSource dataSource, SecretStore secrets, AuditLog audit, TimeProvider time)
{
    public const string NameIndex = "registries_account_name";
    public const string CredentialsSecret = "CREDENTIALS";
    const string Columns = "id, account_id, name, server, created_at, updated_at";

    /// <summary>Stores the credential; throws <see cref="PostgresException"/> 23505 (<see cref="NameIndex"/>) when the name is taken.</summary>
    public async Task<Registry> CreateAsync(Guid accountId, string name, string server, RegistryCredentials credentials, AuditEvent created, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var now = time.GetUtcNow();
        Registry registry;
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO a67.registries (id, account_id, name, server, created_at, created_by, updated_at) VALUES (@id, @account, @name, @server, @now, @account, @now)
            RETURNING {Columns}
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", Guid.CreateVersion7());
            insert.Parameters.AddWithValue("account", accountId);
            insert.Parameters.AddWithValue("name", name);
            insert.Parameters.AddWithValue("server", server);
            insert.Parameters.AddWithValue("now", now);
            registry = (await insert.ReadAllAsync(Read, ct)).Single();
        }

        await secrets.WriteAsync(connection, transaction, accountId, SecretIdentity.Registry, registry.Id, CredentialsSecret,
            JsonSerializer.SerializeToUtf8Bytes(credentials, RelayJsonContext.Default.RegistryCredentials), accountId, ct);
        await audit.WriteAsync(connection, transaction, created with
        {
            Detail = new Dictionary<string, object?> { ["registryId"] = registry.Id, ["name"] = name, ["server"] = server },
        }, ct);
        await transaction.CommitAsync(ct);
        return registry;
    }

    public async Task<IReadOnlyList<Registry>> ListAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.registries WHERE account_id = @account ORDER BY name");
        command.Parameters.AddWithValue("account", accountId);
        return await command.ReadAllAsync(Read, ct);
    }

    public async Task<bool> DeleteAsync(Guid accountId, Guid id, AuditEvent deleted, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var delete = new NpgsqlCommand("DELETE FROM a67.registries WHERE id = @id AND account_id = @account RETURNING name", connection, transaction);
        delete.Parameters.AddWithValue("id", id);
        delete.Parameters.AddWithValue("account", accountId);
        if (await delete.ExecuteScalarAsync(ct) is not string name)
        {
            return false;
        }

        await audit.WriteAsync(connection, transaction, deleted with { Detail = new Dictionary<string, object?> { ["registryId"] = id, ["name"] = name } }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>The account's registry credential called <paramref name="name"/> (names compare case-insensitively).</summary>
    public static async Task<Registry?> FindByNameAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid accountId, string name, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM a67.registries WHERE account_id = @account AND lower(name) = lower(@name)", connection, transaction);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("name", name);
        return (await command.ReadAllAsync(Read, ct)).SingleOrDefault();
    }

    /// <summary>The credential's username and password, decrypted in memory; null when it has none (deleted meanwhile).</summary>
    public async Task<RegistryCredentials?> CredentialsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Registry registry, CancellationToken ct)
    {
        var values = await secrets.ReadAsync(connection, transaction, registry.AccountId, SecretIdentity.Registry, registry.Id, [CredentialsSecret], ct);
        return values.TryGetValue(CredentialsSecret, out var json) ? JsonSerializer.Deserialize(json, RelayJsonContext.Default.RegistryCredentials) : null;
    }

    static Registry Read(NpgsqlDataReader reader) =>
        new Registry(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
            reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5));
}
