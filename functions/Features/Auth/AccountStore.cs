using Automator67.Functions.Features.Audit;
using Npgsql;

namespace Automator67.Functions.Features.Auth;

public static class Roles
{
    public const string User = "user";
    public const string Admin = "admin";
}

public sealed record Account(Guid Id, string Email, string? PasswordHash, string Role, DateTimeOffset? DisabledAt, DateTimeOffset CreatedAt)
{
    public bool IsDisabled => DisabledAt is not null;
}

/// <summary>The accounts table. Emails arrive normalized (<see cref="EmailAddress.Normalize"/>).</summary>
public sealed class AccountStore(NpgsqlDataSource dataSource, AuditLog audit, TimeProvider time)
{
    const string Columns = "id, email, password_hash, role, disabled_at, created_at";

    /// <summary>Creates the account and audits it in one transaction; null when the email is taken.</summary>
    public async Task<Account?> CreateAsync(string email, string? passwordHash, string role, AuditEvent created, CancellationToken ct)
    {
        var account = new Account(Guid.CreateVersion7(), email, passwordHash, role, null, time.GetUtcNow());
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var insert = new NpgsqlCommand(
            $"INSERT INTO a67.accounts ({Columns}) VALUES (@id, @email, @hash, @role, NULL, @created) ON CONFLICT (email) DO NOTHING",
            connection, transaction);
        insert.Parameters.AddWithValue("id", account.Id);
        insert.Parameters.AddWithValue("email", email);
        insert.Parameters.AddWithValue("hash", (object?)passwordHash ?? DBNull.Value);
        insert.Parameters.AddWithValue("role", role);
        insert.Parameters.AddWithValue("created", account.CreatedAt);
        if (await insert.ExecuteNonQueryAsync(ct) == 0)
        {
            return null;
        }

        await audit.WriteAsync(connection, transaction, created with { AccountId = account.Id, ActorId = created.ActorId ?? account.Id }, ct);
        await transaction.CommitAsync(ct);
        return account;
    }

    public Task<Account?> FindByEmailAsync(string email, CancellationToken ct) => FindAsync("email = @key", email, ct);

    public Task<Account?> FindAsync(Guid id, CancellationToken ct) => FindAsync("id = @key", id, ct);

    public async Task<bool> AnyAdminAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM a67.accounts WHERE role = 'admin')");
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task UpdatePasswordHashAsync(Guid id, string hash, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("UPDATE a67.accounts SET password_hash = @hash WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("hash", hash);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Stores a new password hash and ends every session but <paramref name="keepSession"/>, in one transaction.</summary>
    public async Task ChangePasswordAsync(Guid id, string hash, Guid keepSession, AuditEvent changed, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var update = new NpgsqlCommand("""
            UPDATE a67.accounts SET password_hash = @hash WHERE id = @id;
            UPDATE a67.sessions SET revoked_at = @now, revoked_reason = 'password changed'
            WHERE account_id = @id AND id <> @keep AND revoked_at IS NULL;
            """, connection, transaction);
        update.Parameters.AddWithValue("hash", hash);
        update.Parameters.AddWithValue("id", id);
        update.Parameters.AddWithValue("keep", keepSession);
        update.Parameters.AddWithValue("now", time.GetUtcNow());
        await update.ExecuteNonQueryAsync(ct);
        await audit.WriteAsync(connection, transaction, changed, ct);
        await transaction.CommitAsync(ct);
    }

    /// <summary>Disables or enables an account; disabling ends all its sessions in the same transaction. False when there is no such account.</summary>
    public async Task<Account?> SetDisabledAsync(Guid id, bool disabled, AuditEvent changed, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var update = new NpgsqlCommand(
            $"UPDATE a67.accounts SET disabled_at = CASE WHEN @disabled THEN coalesce(disabled_at, @now) END WHERE id = @id RETURNING {Columns}",
            connection, transaction);
        update.Parameters.AddWithValue("disabled", disabled);
        update.Parameters.AddWithValue("now", now);
        update.Parameters.AddWithValue("id", id);
        Account? account;
        await using (var reader = await update.ExecuteReaderAsync(ct))
        {
            account = await reader.ReadAsync(ct) ? Read(reader) : null;
        }

        if (account is null)
        {
            return null;
        }

        if (disabled)
        {
            await Sessions.SessionStore.RevokeAllAsync(connection, transaction, id, "account disabled", now, ct);
        }

        await audit.WriteAsync(connection, transaction, changed with { AccountId = id }, ct);
        await transaction.CommitAsync(ct);
        return account;
    }

    public async Task<Account?> SetRoleAsync(Guid id, string role, AuditEvent changed, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var update = new NpgsqlCommand($"UPDATE a67.accounts SET role = @role WHERE id = @id RETURNING {Columns}", connection, transaction);
        update.Parameters.AddWithValue("role", role);
        update.Parameters.AddWithValue("id", id);
        Account? account;
        await using (var reader = await update.ExecuteReaderAsync(ct))
        {
            account = await reader.ReadAsync(ct) ? Read(reader) : null;
        }

        if (account is not null)
        {
            await audit.WriteAsync(connection, transaction, changed with { AccountId = id }, ct);
            await transaction.CommitAsync(ct);
        }

        return account;
    }

    /// <summary>Accounts in creation order, a page at a time (keyset on the time-ordered id).</summary>
    public async Task<IReadOnlyList<Account>> ListAsync(Guid? after, int limit, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.accounts WHERE @after::uuid IS NULL OR id > @after ORDER BY id LIMIT @limit");
        command.Parameters.AddWithValue("after", (object?)after ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit);
        var list = new List<Account>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            list.Add(Read(reader));
        }

        return list;
    }

    async Task<Account?> FindAsync<T>(string where, T key, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.accounts WHERE {where}");
        command.Parameters.AddWithValue("key", key!);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    internal static Account Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetString(1),
        reader.IsDBNull(2) ? null : reader.GetString(2),
        reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
        reader.GetFieldValue<DateTimeOffset>(5));
}
