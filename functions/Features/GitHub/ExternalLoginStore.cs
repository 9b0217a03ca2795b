using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth;
using Npgsql;

namespace Automator67.Functions.Features.GitHub;

/// <summary>What linking an identity to an account led to.</summary>
public enum LinkOutcome
{
    Linked,
    AlreadyLinked,
    IdentityLinkedElsewhere,
    AccountHasAnotherIdentity,
}

/// <summary>
/// <c>a67.external_logins</c>: which account a provider's user id signs in to. Accounts are found by (provider,
/// subject) only; an email never links anything, because anyone can put any address on a GitHub account.
/// </summary>
public sealed class ExternalLoginStore(NpgsqlDataSource dataSource, AuditLog audit, TimeProvider time)
{
    const string AccountColumns = "a.id, a.email, a.password_hash, a.role, a.disabled_at, a.created_at";

    /// <summary>The account this identity signs in to, recording the user name GitHub gives now; null when none.</summary>
    public async Task<Account?> FindAccountAsync(string provider, string subject, string login, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE a67.external_logins l SET last_used_at = @now, login = @login FROM a67.accounts a
            WHERE l.provider = @provider AND l.subject = @subject AND a.id = l.account_id
            RETURNING {AccountColumns}
            """);
        command.Parameters.AddWithValue("now", time.GetUtcNow());
        command.Parameters.AddWithValue("login", login);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("subject", subject);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? AccountStore.Read(reader) : null;
    }

    /// <summary>The subject linked to this account for a provider, or null.</summary>
    public async Task<string?> FindSubjectAsync(Guid accountId, string provider, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT subject FROM a67.external_logins WHERE account_id = @account AND provider = @provider");
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("provider", provider);
        return await command.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>
    /// Creates a password-less account with the identity linked, in one transaction with its audit events; null
    /// when the email is taken or the identity got linked meanwhile (a concurrent callback): nothing is written then.
    /// </summary>
    public async Task<Account?> CreateAccountAsync(string email, string provider, string subject, string login, AuditEvent created, AuditEvent linked, CancellationToken ct)
    {
        var account = new Account(Guid.CreateVersion7(), email, null, Roles.User, null, time.GetUtcNow());
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.accounts (id, email, password_hash, role, disabled_at, created_at) VALUES (@id, @email, NULL, @role, NULL, @now)
            ON CONFLICT (email) DO NOTHING
            """, connection, transaction);
        insert.Parameters.AddWithValue("id", account.Id);
        insert.Parameters.AddWithValue("email", email);
        insert.Parameters.AddWithValue("role", account.Role);
        insert.Parameters.AddWithValue("now", account.CreatedAt);
        if (await insert.ExecuteNonQueryAsync(ct) == 0 || !await InsertLinkAsync(connection, transaction, provider, subject, login, account.Id, ct))
        {
            await transaction.RollbackAsync(ct);
            return null;
        }

        await audit.WriteAsync(connection, transaction, created with { AccountId = account.Id, ActorId = account.Id }, ct);
        await audit.WriteAsync(connection, transaction, linked with { AccountId = account.Id, ActorId = account.Id }, ct);
        await transaction.CommitAsync(ct);
        return account;
    }

    /// <summary>Links the identity to an existing account (the signed-in user proved it is theirs).</summary>
    public async Task<LinkOutcome> LinkAsync(Guid accountId, string provider, string subject, string login, AuditEvent linked, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // Lock the account row so two link flows of one account cannot both pass the checks below.
        await using (var lockAccount = new NpgsqlCommand("SELECT 1 FROM a67.accounts WHERE id = @account FOR UPDATE", connection, transaction))
        {
            lockAccount.Parameters.AddWithValue("account", accountId);
            await lockAccount.ExecuteNonQueryAsync(ct);
        }

        await using var find = new NpgsqlCommand("""
            SELECT account_id, subject FROM a67.external_logins
            WHERE provider = @provider AND (subject = @subject OR account_id = @account)
            """, connection, transaction);
        find.Parameters.AddWithValue("provider", provider);
        find.Parameters.AddWithValue("subject", subject);
        find.Parameters.AddWithValue("account", accountId);
        var existing = new List<(Guid Account, string Subject)>();
        await using (var reader = await find.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                existing.Add((reader.GetGuid(0), reader.GetString(1)));
            }
        }

        if (existing.Any(e => e.Subject == subject))
        {
            return existing.Any(e => e.Subject == subject && e.Account == accountId) ? LinkOutcome.AlreadyLinked : LinkOutcome.IdentityLinkedElsewhere;
        }

        if (existing.Count > 0)
        {
            return LinkOutcome.AccountHasAnotherIdentity;
        }

        // A concurrent link of the same identity to another account loses on the primary key here.
        if (!await InsertLinkAsync(connection, transaction, provider, subject, login, accountId, ct))
        {
            return LinkOutcome.IdentityLinkedElsewhere;
        }

        await audit.WriteAsync(connection, transaction, linked with { AccountId = accountId }, ct);
        await transaction.CommitAsync(ct);
        return LinkOutcome.Linked;
    }

    /// <summary>Removes the account's link for a provider; false when there was none.</summary>
    public async Task<bool> UnlinkAsync(Guid accountId, string provider, AuditEvent unlinked, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var delete = new NpgsqlCommand(
            "DELETE FROM a67.external_logins WHERE account_id = @account AND provider = @provider RETURNING subject, login", connection, transaction);
        delete.Parameters.AddWithValue("account", accountId);
        delete.Parameters.AddWithValue("provider", provider);
        string subject, login;
        await using (var reader = await delete.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return false;
            }

            (subject, login) = (reader.GetString(0), reader.GetString(1));
        }

        await audit.WriteAsync(connection, transaction, unlinked with
        {
            AccountId = accountId,
            Detail = new Dictionary<string, object?> { ["githubId"] = subject, ["githubLogin"] = login },
        }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    async Task<bool> InsertLinkAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string provider, string subject, string login, Guid accountId, CancellationToken ct)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.external_logins (provider, subject, account_id, login, created_at, last_used_at) VALUES (@provider, @subject, @account, @login, @now, @now)
            ON CONFLICT DO NOTHING
            """, connection, transaction);
        insert.Parameters.AddWithValue("provider", provider);
        insert.Parameters.AddWithValue("subject", subject);
        insert.Parameters.AddWithValue("account", accountId);
        insert.Parameters.AddWithValue("login", login);
        insert.Parameters.AddWithValue("now", time.GetUtcNow());
        return await insert.ExecuteNonQueryAsync(ct) == 1;
    }
}
