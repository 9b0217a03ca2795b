using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Audit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>
/// An account's two-factor state: enrolment, confirmation, backup codes, disabling, and the login challenges that
/// wait for a second factor. Every change that needs a code runs in one transaction with its check
/// (<see cref="SecondFactorCheck"/>) and its audit event: the caller's <c>context</c> event on success, a
/// <see cref="AuditTypes.TwoFactorFailed"/> event built from it otherwise.
/// </summary>
public sealed class TwoFactorStore(NpgsqlDataSource dataSource, SecondFactorCheck check, AuditLog audit, IOptions<TwoFactorOptions> options, TimeProvider time)
{
    public const string ChallengePrefix = "a67_2fa_";

    public async Task<bool> IsEnabledAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM a67.two_factor WHERE account_id = @account AND enabled_at IS NOT NULL)");
        command.Parameters.AddWithValue("account", accountId);
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<TwoFactorStatus> StatusAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT t.enabled_at, (SELECT count(*) FROM a67.two_factor_backup_codes b WHERE b.account_id = @account AND b.used_at IS NULL)
            FROM a67.two_factor t WHERE t.account_id = @account
            """);
        command.Parameters.AddWithValue("account", accountId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return new TwoFactorStatus(false, false, null, 0);
        }

        var enabledAt = reader.IsDBNull(0) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(0);
        return new TwoFactorStatus(enabledAt is not null, enabledAt is null, enabledAt, (int)reader.GetInt64(1));
    }

    /// <summary>Stores a new pending secret (replacing an unconfirmed one); false when two-factor is already on.</summary>
    public async Task<bool> BeginEnrollmentAsync(Guid accountId, byte[] sealedSecret, AuditEvent started, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // The failure count survives a restarted enrolment, so restarting is no way around the limit.
        await using var upsert = new NpgsqlCommand("""
            INSERT INTO a67.two_factor (account_id, secret, created_at) VALUES (@account, @secret, @now)
            ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret, last_used_step = NULL, created_at = excluded.created_at
            WHERE a67.two_factor.enabled_at IS NULL
            """, connection, transaction);
        upsert.Parameters.AddWithValue("account", accountId);
        upsert.Parameters.AddWithValue("secret", sealedSecret);
        upsert.Parameters.AddWithValue("now", time.GetUtcNow());
        if (await upsert.ExecuteNonQueryAsync(ct) == 0)
        {
            return false;
        }

        await audit.WriteAsync(connection, transaction, started, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Turns two-factor on with the first code from the app; returns the backup codes, shown this once.</summary>
    public Task<(Verification, string[]?)> ConfirmAsync(Guid accountId, Guid keepSession, SecondFactor factor, AuditEvent context, CancellationToken ct) =>
        InTransactionAsync(accountId, factor, enabled: false, context, "confirm", async (connection, transaction, now) =>
        {
            await using (var enable = new NpgsqlCommand("UPDATE a67.two_factor SET enabled_at = @now WHERE account_id = @account", connection, transaction))
            {
                enable.Parameters.AddWithValue("now", now);
                enable.Parameters.AddWithValue("account", accountId);
                await enable.ExecuteNonQueryAsync(ct);
            }

            var codes = await ReplaceBackupCodesAsync(connection, transaction, accountId, now, ct);
            // Sessions signed in with the password alone end: whoever else held one would otherwise keep it.
            await EndOtherSessionsAsync(connection, transaction, accountId, keepSession, "two-factor enabled", now, ct);
            await audit.WriteAsync(connection, transaction, context, ct);
            return codes;
        }, ct);

    public Task<(Verification, string[]?)> RegenerateBackupCodesAsync(Guid accountId, SecondFactor factor, AuditEvent context, CancellationToken ct) =>
        InTransactionAsync(accountId, factor, enabled: true, context, "backup-codes", async (connection, transaction, now) =>
        {
            var codes = await ReplaceBackupCodesAsync(connection, transaction, accountId, now, ct);
            await audit.WriteAsync(connection, transaction, context, ct);
            return codes;
        }, ct);

    public async Task<Verification> DisableAsync(Guid accountId, Guid keepSession, SecondFactor factor, AuditEvent context, CancellationToken ct)
    {
        var (verification, _) = await InTransactionAsync(accountId, factor, enabled: true, context, "disable", async (connection, transaction, now) =>
        {
            await using (var delete = new NpgsqlCommand("""
                DELETE FROM a67.two_factor WHERE account_id = @account;
                DELETE FROM a67.two_factor_backup_codes WHERE account_id = @account;
                DELETE FROM a67.two_factor_challenges WHERE account_id = @account;
                """, connection, transaction))
            {
                delete.Parameters.AddWithValue("account", accountId);
                await delete.ExecuteNonQueryAsync(ct);
            }

            await EndOtherSessionsAsync(connection, transaction, accountId, keepSession, "two-factor disabled", now, ct);
            await audit.WriteAsync(connection, transaction, context with { Detail = new Dictionary<string, object?> { ["method"] = factor.Method } }, ct);
            return [];
        }, ct);
        return verification;
    }

    /// <summary>Starts the second step of a login whose password was right: a one-time challenge token.</summary>
    public async Task<(string Token, TimeSpan Lifetime)> IssueChallengeAsync(Guid accountId, AuditEvent challenged, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var (token, tokenHash) = OpaqueTokens.Create(ChallengePrefix);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // Expired and redeemed challenges are swept here, so the table holds only live ones (plus a few minutes' worth).
        await using (var insert = new NpgsqlCommand("""
            DELETE FROM a67.two_factor_challenges WHERE expires_at <= @now OR used_at IS NOT NULL;
            INSERT INTO a67.two_factor_challenges (token_hash, account_id, created_at, expires_at) VALUES (@hash, @account, @now, @expires);
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("now", now);
            insert.Parameters.AddWithValue("hash", tokenHash);
            insert.Parameters.AddWithValue("account", accountId);
            insert.Parameters.AddWithValue("expires", now + options.Value.ChallengeLifetime);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await audit.WriteAsync(connection, transaction, challenged, ct);
        await transaction.CommitAsync(ct);
        return (token, options.Value.ChallengeLifetime);
    }

    /// <summary>
    /// Redeems a challenge with a second factor. The challenge survives a wrong code (typos happen; the account's failure
    /// limit bounds guessing) and is spent by the right one. Null account: unknown, expired or spent challenge, or a
    /// disabled account.
    /// </summary>
    public async Task<(Verification? Verification, Account? Account)> RedeemChallengeAsync(string challengeToken, SecondFactor factor, AuditEvent context, CancellationToken ct)
    {
        if (!challengeToken.StartsWith(ChallengePrefix, StringComparison.Ordinal) || challengeToken.Length > 100 || !challengeToken.All(char.IsAscii))
        {
            return (null, null);
        }

        var hash = OpaqueTokens.Hash(challengeToken);
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var find = new NpgsqlCommand("""
            SELECT a.id, a.email, a.password_hash, a.role, a.disabled_at, a.created_at
            FROM a67.two_factor_challenges c JOIN a67.accounts a ON a.id = c.account_id
            WHERE c.token_hash = @hash AND c.used_at IS NULL AND c.expires_at > @now AND a.disabled_at IS NULL
            FOR UPDATE OF c
            """, connection, transaction);
        find.Parameters.AddWithValue("hash", hash);
        find.Parameters.AddWithValue("now", now);
        Account account;
        await using (var reader = await find.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return (null, null);
            }

            account = AccountStore.Read(reader);
        }

        var withAccount = context with { AccountId = account.Id, ActorId = account.Id };
        var verification = await check.VerifyAsync(connection, transaction, account.Id, factor, enabled: true, Failed(withAccount, "login"), ct);
        if (verification is Verification.Accepted)
        {
            await using var spend = new NpgsqlCommand("UPDATE a67.two_factor_challenges SET used_at = @now WHERE token_hash = @hash", connection, transaction);
            spend.Parameters.AddWithValue("now", now);
            spend.Parameters.AddWithValue("hash", hash);
            await spend.ExecuteNonQueryAsync(ct);
            await audit.WriteAsync(connection, transaction, withAccount with { Detail = new Dictionary<string, object?> { ["method"] = factor.Method } }, ct);
        }

        await transaction.CommitAsync(ct);
        return (verification, account);
    }

    // Checks the factor and, when accepted, runs the change; commits either way, so a wrong code's count and audit stay.
    async Task<(Verification, string[]?)> InTransactionAsync(Guid accountId, SecondFactor factor, bool enabled, AuditEvent context, string purpose,
        Func<NpgsqlConnection, NpgsqlTransaction, DateTimeOffset, Task<string[]>> change, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var verification = await check.VerifyAsync(connection, transaction, accountId, factor, enabled, Failed(context, purpose), ct);
        var result = verification is Verification.Accepted ? await change(connection, transaction, time.GetUtcNow()) : null;
        await transaction.CommitAsync(ct);
        return (verification, result);
    }

    static AuditEvent Failed(AuditEvent context, string purpose) =>
        context with { Type = AuditTypes.TwoFactorFailed, Detail = new Dictionary<string, object?> { ["purpose"] = purpose } };

    static async Task<string[]> ReplaceBackupCodesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, DateTimeOffset now, CancellationToken ct)
    {
        var (codes, hashes) = BackupCodes.Generate();
        await using var replace = new NpgsqlCommand("""
            DELETE FROM a67.two_factor_backup_codes WHERE account_id = @account;
            INSERT INTO a67.two_factor_backup_codes (account_id, code_hash, created_at) SELECT @account, unnest(@hashes), @now;
            """, connection, transaction);
        replace.Parameters.AddWithValue("account", accountId);
        replace.Parameters.AddWithValue("hashes", hashes);
        replace.Parameters.AddWithValue("now", now);
        await replace.ExecuteNonQueryAsync(ct);
        return codes;
    }

    static async Task EndOtherSessionsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid keepSession, string reason, DateTimeOffset now, CancellationToken ct)
    {
        await using var revoke = new NpgsqlCommand(
            "UPDATE a67.sessions SET revoked_at = @now, revoked_reason = @reason WHERE account_id = @account AND id <> @keep AND revoked_at IS NULL",
            connection, transaction);
        revoke.Parameters.AddWithValue("now", now);
        revoke.Parameters.AddWithValue("reason", reason);
        revoke.Parameters.AddWithValue("account", accountId);
        revoke.Parameters.AddWithValue("keep", keepSession);
        await revoke.ExecuteNonQueryAsync(ct);
    }
}
