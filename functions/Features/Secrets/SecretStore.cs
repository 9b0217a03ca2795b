using System.Security.Cryptography;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Secrets;

/// <summary>A secret as the API shows it: never its value.</summary>
public sealed record SecretInfo(string Name, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Guid? UpdatedBy);

/// <summary>A secret that exists but does not decrypt (altered, moved, or its KEK version is gone): fails closed, audited.</summary>
public sealed class SecretUnreadableException(string name, string reason) : Exception($"secret {name} cannot be decrypted: {reason}")
{
    public string Name { get; } = name;
}

/// <summary>
/// The secrets table: app secrets and registry credentials, encrypted (<see cref="SecretCipher"/>). A write takes a
/// fresh data key and the next version; reads decrypt in memory for the caller only. Every read and change is scoped
/// to one account; writes and deletes are audited in their transaction, a decryption failure on its own connection
/// (it must be recorded even when the caller's transaction rolls back).
/// </summary>
public sealed partial class SecretStore(NpgsqlDataSource dataSource, KeyEncryptionKeys keks, AuditLog audit, TimeProvider time, ILogger<SecretStore> logger)
{
    public const int MaxValueBytes = 64 * 1024;
    public const int MaxSecretsPerApp = 200;

    /// <summary>Creates or replaces the app's secret (the next version); null when the account has no such app.</summary>
    public async Task<SecretInfo?> PutAsync(Guid accountId, Guid appId, string name, byte[] value, Guid actor, AuditEvent written, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // The app's row lock orders writers of one app: versions never collide, and a delete of the app waits.
        await using (var app = new NpgsqlCommand("SELECT 1 FROM a67.apps WHERE id = @app AND account_id = @account FOR NO KEY UPDATE", connection, transaction))
        {
            app.Parameters.AddWithValue("app", appId);
            app.Parameters.AddWithValue("account", accountId);
            if (await app.ExecuteScalarAsync(ct) is null)
            {
                return null;
            }
        }

        var info = await WriteAsync(connection, transaction, accountId, SecretIdentity.App, appId, name, value, actor, ct);
        await audit.WriteAsync(connection, transaction, written with
        {
            Detail = new Dictionary<string, object?> { ["appId"] = appId, ["name"] = name, ["version"] = info.Version },
        }, ct);
        await transaction.CommitAsync(ct);
        return info;
    }

    /// <summary>Writes the next version of a secret of <paramref name="ownerKind"/> <paramref name="ownerId"/> in the caller's transaction (which must order writers of that owner).</summary>
    public async Task<SecretInfo> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, string ownerKind, Guid ownerId, string name,
        byte[] value, Guid? actor, CancellationToken ct)
    {
        var kek = await keks.ActiveAsync(connection, transaction, ct);
        Guid id;
        var version = 1;
        await using (var find = new NpgsqlCommand($"SELECT id, version FROM a67.secrets WHERE {OwnerColumn(ownerKind)} = @owner AND name = @name FOR UPDATE", connection, transaction))
        {
            find.Parameters.AddWithValue("owner", ownerId);
            find.Parameters.AddWithValue("name", name);
            await using var reader = await find.ExecuteReaderAsync(ct);
            id = await reader.ReadAsync(ct) ? reader.GetGuid(0) : Guid.CreateVersion7();
            version = reader.HasRows ? reader.GetInt32(1) + 1 : 1;
        }

        var encrypted = SecretCipher.Encrypt(new SecretIdentity(id, accountId, ownerKind, ownerId, name, version), kek, value);
        var now = time.GetUtcNow();
        await using var upsert = new NpgsqlCommand($"""
            INSERT INTO a67.secrets (id, account_id, {OwnerColumn(ownerKind)}, name, version, kek_id, wrapped_key, ciphertext, value_bytes, created_at, updated_at, updated_by)
            VALUES (@id, @account, @owner, @name, @version, @kek, @wrapped, @ciphertext, @bytes, @now, @now, @actor)
            ON CONFLICT (id) DO UPDATE SET version = excluded.version, kek_id = excluded.kek_id, wrapped_key = excluded.wrapped_key,
                ciphertext = excluded.ciphertext, value_bytes = excluded.value_bytes, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            RETURNING created_at, updated_at
            """, connection, transaction);
        upsert.Parameters.AddWithValue("id", id);
        upsert.Parameters.AddWithValue("account", accountId);
        upsert.Parameters.AddWithValue("owner", ownerId);
        upsert.Parameters.AddWithValue("name", name);
        upsert.Parameters.AddWithValue("version", version);
        upsert.Parameters.AddWithValue("kek", encrypted.KekId);
        upsert.Parameters.AddWithValue("wrapped", encrypted.WrappedKey);
        upsert.Parameters.AddWithValue("ciphertext", encrypted.Ciphertext);
        upsert.Parameters.AddWithValue("bytes", value.Length);
        upsert.Parameters.AddWithValue("now", now);
        upsert.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Uuid) { Value = (object?)actor ?? DBNull.Value });
        await using var written = await upsert.ExecuteReaderAsync(ct);
        await written.ReadAsync(ct);
        return new SecretInfo(name, version, written.GetFieldValue<DateTimeOffset>(0), written.GetFieldValue<DateTimeOffset>(1), actor);
    }

    /// <summary>The app's secrets by name (never their values); null when the account has no such app.</summary>
    public async Task<IReadOnlyList<SecretInfo>?> ListAsync(Guid accountId, Guid appId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT a.id, s.name, s.version, s.created_at, s.updated_at, s.updated_by
            FROM a67.apps a LEFT JOIN a67.secrets s ON s.app_id = a.id
            WHERE a.id = @app AND a.account_id = @account ORDER BY s.name
            """);
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("account", accountId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var found = false;
        var secrets = new List<SecretInfo>();
        while (await reader.ReadAsync(ct))
        {
            found = true;
            if (!reader.IsDBNull(1))
            {
                secrets.Add(new SecretInfo(reader.GetString(1), reader.GetInt32(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4),
                    reader.IsDBNull(5) ? null : reader.GetGuid(5)));
            }
        }

        return found ? secrets : null;
    }

    public async Task<int> CountAsync(Guid appId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM a67.secrets WHERE app_id = @app");
        command.Parameters.AddWithValue("app", appId);
        return (int)(long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Deletes the app's secret; false when the account has no such app or secret.</summary>
    public async Task<bool> DeleteAsync(Guid accountId, Guid appId, string name, AuditEvent deleted, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var delete = new NpgsqlCommand("""
            DELETE FROM a67.secrets s USING a67.apps a
            WHERE s.app_id = a.id AND a.id = @app AND a.account_id = @account AND s.name = @name
            RETURNING s.version
            """, connection, transaction);
        delete.Parameters.AddWithValue("app", appId);
        delete.Parameters.AddWithValue("account", accountId);
        delete.Parameters.AddWithValue("name", name);
        if (await delete.ExecuteScalarAsync(ct) is not int version)
        {
            return false;
        }

        await audit.WriteAsync(connection, transaction, deleted with
        {
            Detail = new Dictionary<string, object?> { ["appId"] = appId, ["name"] = name, ["version"] = version },
        }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Of <paramref name="names"/>, those the app has no secret for.</summary>
    public static async Task<IReadOnlyList<string>> MissingAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid appId, IReadOnlyCollection<string> names,
        CancellationToken ct)
    {
        if (names.Count == 0)
        {
            return [];
        }

        await using var command = new NpgsqlCommand("SELECT name FROM a67.secrets WHERE app_id = @app AND name = ANY(@names)", connection, transaction);
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("names", names.ToArray());
        var present = (await command.ReadAllAsync(reader => reader.GetString(0), ct)).ToHashSet(StringComparer.Ordinal);

        return [.. names.Where(n => !present.Contains(n)).Distinct().Order(StringComparer.Ordinal)];
    }

    /// <summary>The total size of the values of the app's secrets named <paramref name="names"/> (to see whether they fit a command).</summary>
    public static async Task<int> ValueBytesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid appId, IReadOnlyCollection<string> names, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT coalesce(sum(value_bytes), 0)::integer FROM a67.secrets WHERE app_id = @app AND name = ANY(@names)", connection, transaction);
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("names", names.ToArray());
        return (int)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Decrypts the owner's secrets named <paramref name="names"/> (those that exist) in memory. Throws
    /// <see cref="SecretUnreadableException"/> (audited) when one does not decrypt, and <see cref="KeyUnavailableException"/>
    /// when its KEK cannot be read now.
    /// </summary>
    public async Task<Dictionary<string, byte[]>> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid accountId, string ownerKind, Guid ownerId,
        IReadOnlyCollection<string> names, CancellationToken ct)
    {
        var rows = new List<(SecretIdentity Identity, EncryptedSecret Secret)>();
        await using (var command = new NpgsqlCommand($"""
            SELECT id, name, version, kek_id, wrapped_key, ciphertext FROM a67.secrets
            WHERE account_id = @account AND {OwnerColumn(ownerKind)} = @owner AND name = ANY(@names)
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("account", accountId);
            command.Parameters.AddWithValue("owner", ownerId);
            command.Parameters.AddWithValue("names", names.ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows.Add((new SecretIdentity(reader.GetGuid(0), accountId, ownerKind, ownerId, reader.GetString(1), reader.GetInt32(2)),
                    new EncryptedSecret(reader.GetString(3), reader.GetFieldValue<byte[]>(4), reader.GetFieldValue<byte[]>(5))));
            }
        }

        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (identity, secret) in rows)
        {
            var kek = await keks.KeyAsync(secret.KekId, ct);
            try
            {
                values[identity.Name] = SecretCipher.Decrypt(identity, secret, kek);
            }
            catch (CryptographicException ex)
            {
                await DecryptFailedAsync(identity, secret.KekId, ex.Message, ct);
                throw new SecretUnreadableException(identity.Name, "its ciphertext does not authenticate (altered, or moved from another secret)");
            }
        }

        return values;
    }

    /// <summary>Audits and logs a secret that does not decrypt, on a connection of its own.</summary>
    public async Task DecryptFailedAsync(SecretIdentity identity, string kekId, string reason, CancellationToken ct)
    {
        LogDecryptFailed(identity.Id, identity.OwnerKind, identity.OwnerId, identity.Name, identity.Version, kekId);
        await audit.WriteAsync(new AuditEvent(AuditTypes.SecretDecryptFailed, identity.AccountId, null, null, null, new Dictionary<string, object?>
        {
            ["secretId"] = identity.Id,
            [identity.OwnerKind == SecretIdentity.App ? "appId" : "registryId"] = identity.OwnerId,
            ["name"] = identity.Name,
            ["version"] = identity.Version,
            ["kekId"] = kekId,
            ["reason"] = reason,
        }), CancellationToken.None);
    }

    internal static string OwnerColumn(string ownerKind) => ownerKind switch
    {
        SecretIdentity.App => "app_id",
        SecretIdentity.Registry => "registry_id",
        _ => throw new ArgumentOutOfRangeException(nameof(ownerKind), ownerKind, "app or registry"),
    };

    [LoggerMessage(EventId = 1800, Level = LogLevel.Error,
        Message = "Secret {SecretId} ({OwnerKind} {OwnerId}, {Name} version {Version}, KEK {KekId}) does not decrypt: altered or moved; refused")]
    partial void LogDecryptFailed(Guid secretId, string ownerKind, Guid ownerId, string name, int version, string kekId);
}
