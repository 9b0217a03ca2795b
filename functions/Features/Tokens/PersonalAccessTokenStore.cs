using Automator67.Functions.Features.Audit;
using Npgsql;

namespace Automator67.Functions.Features.Tokens;

/// <summary>A personal access token as its owner sees it: never the secret, only its last characters.</summary>
public sealed record PersonalAccessToken(
    Guid Id, Guid AccountId, string Name, string[] Scopes, string Hint, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt);

/// <summary>What a presented token grants, with the account's current role and state (not what they were at creation).</summary>
public sealed record TokenGrant(
    Guid Id, Guid AccountId, string Role, string[] Scopes, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, bool AccountDisabled);

/// <summary>The personal_access_tokens table. Secrets never reach it: only their SHA-256 hashes.</summary>
public sealed class PersonalAccessTokenStore(NpgsqlDataSource dataSource, AuditLog audit, TimeProvider time)
{
    const string Columns = "id, account_id, name, scopes, hint, created_at, last_used_at, expires_at, revoked_at";

    /// <summary>Creates a token and audits it in one transaction; returns the stored token and its secret, shown once.</summary>
    public async Task<(PersonalAccessToken Token, string Secret)> CreateAsync(
        Guid accountId, string name, string[] scopes, TimeSpan lifetime, AuditEvent created, CancellationToken ct)
    {
        var (secret, hash, hint) = PersonalAccessTokens.Generate();
        var now = time.GetUtcNow();
        var token = new PersonalAccessToken(Guid.CreateVersion7(), accountId, name, scopes, hint, now, null, now + lifetime, null);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO a67.personal_access_tokens (id, account_id, name, scopes, token_hash, hint, created_at, expires_at)
            VALUES (@id, @account, @name, @scopes, @hash, @hint, @created, @expires)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", token.Id);
            insert.Parameters.AddWithValue("account", accountId);
            insert.Parameters.AddWithValue("name", name);
            insert.Parameters.AddWithValue("scopes", scopes);
            insert.Parameters.AddWithValue("hash", hash);
            insert.Parameters.AddWithValue("hint", hint);
            insert.Parameters.AddWithValue("created", token.CreatedAt);
            insert.Parameters.AddWithValue("expires", token.ExpiresAt);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await audit.WriteAsync(connection, transaction, created with
        {
            Detail = new Dictionary<string, object?>(created.Detail ?? new Dictionary<string, object?>())
            {
                ["tokenId"] = token.Id, ["name"] = name, ["scopes"] = scopes, ["expiresAt"] = token.ExpiresAt,
            },
        }, ct);
        await transaction.CommitAsync(ct);
        return (token, secret);
    }

    /// <summary>The account's tokens, newest first, including revoked and expired ones so their owner sees what ended.</summary>
    public async Task<IReadOnlyList<PersonalAccessToken>> ListAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.personal_access_tokens WHERE account_id = @account ORDER BY created_at DESC, id DESC");
        command.Parameters.AddWithValue("account", accountId);
        var tokens = new List<PersonalAccessToken>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            tokens.Add(Read(reader));
        }

        return tokens;
    }

    /// <summary>One of the account's tokens; null for a missing one and for another account's alike.</summary>
    public async Task<PersonalAccessToken?> FindAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.personal_access_tokens WHERE id = @id AND account_id = @account");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>
    /// Revokes one of the account's tokens and audits it, once: revoking a revoked token changes nothing. Returns its
    /// hash (to forget the cached grant), or null when the account has no such token.
    /// </summary>
    public async Task<byte[]?> RevokeAsync(Guid accountId, Guid id, AuditEvent revoked, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        byte[] hash;
        string name;
        bool alreadyRevoked;
        await using (var find = new NpgsqlCommand(
            "SELECT token_hash, name, revoked_at IS NOT NULL FROM a67.personal_access_tokens WHERE id = @id AND account_id = @account FOR UPDATE",
            connection, transaction))
        {
            find.Parameters.AddWithValue("id", id);
            find.Parameters.AddWithValue("account", accountId);
            await using var reader = await find.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            (hash, name, alreadyRevoked) = (reader.GetFieldValue<byte[]>(0), reader.GetString(1), reader.GetBoolean(2));
        }

        if (!alreadyRevoked)
        {
            await using var update = new NpgsqlCommand("UPDATE a67.personal_access_tokens SET revoked_at = @now WHERE id = @id", connection, transaction);
            update.Parameters.AddWithValue("now", time.GetUtcNow());
            update.Parameters.AddWithValue("id", id);
            await update.ExecuteNonQueryAsync(ct);
            await audit.WriteAsync(connection, transaction, revoked with
            {
                Detail = new Dictionary<string, object?>(revoked.Detail ?? new Dictionary<string, object?>()) { ["tokenId"] = id, ["name"] = name },
            }, ct);
        }

        await transaction.CommitAsync(ct);
        return hash;
    }

    /// <summary>What the token with this hash grants, or null when there is none.</summary>
    public async Task<TokenGrant?> FindGrantAsync(byte[] hash, CancellationToken ct)
    {
        // An index lookup by the SHA-256 of the secret: what timing might reveal is a prefix of a hash, which brings an
        // attacker no closer to a secret that hashes to it.
        await using var command = dataSource.CreateCommand("""
            SELECT t.id, t.account_id, a.role, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, a.disabled_at IS NOT NULL
            FROM a67.personal_access_tokens t JOIN a67.accounts a ON a.id = t.account_id
            WHERE t.token_hash = @hash
            """);
        command.Parameters.AddWithValue("hash", hash);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new TokenGrant(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<string[]>(3), reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6), reader.GetBoolean(7))
            : null;
    }

    /// <summary>Records a use, unless one was recorded within <paramref name="resolution"/> (by any instance).</summary>
    public async Task TouchAsync(Guid id, DateTimeOffset now, TimeSpan resolution, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE a67.personal_access_tokens SET last_used_at = @now
            WHERE id = @id AND (last_used_at IS NULL OR last_used_at <= @since)
            """);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("since", now - resolution);
        await command.ExecuteNonQueryAsync(ct);
    }

    static PersonalAccessToken Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetGuid(1),
        reader.GetString(2),
        reader.GetFieldValue<string[]>(3),
        reader.GetString(4),
        reader.GetFieldValue<DateTimeOffset>(5),
        reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
        reader.GetFieldValue<DateTimeOffset>(7),
        reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8));
}
