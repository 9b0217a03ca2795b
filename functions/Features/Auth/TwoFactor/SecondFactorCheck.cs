using Automator67.Functions.Features.Audit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>What a person presented as their second factor: a TOTP code or a backup code, already normalized.</summary>
public sealed record SecondFactor(string? Code, string? BackupCode)
{
    public string Method => Code is not null ? "totp" : "backupCode";
}

/// <summary>What checking a second factor found.</summary>
public abstract record Verification
{
    public sealed record Accepted(string Method) : Verification;

    public sealed record Wrong(string Reason) : Verification;

    /// <summary>Too many wrong codes lately: the account must wait, and the code was not even looked at.</summary>
    public sealed record Locked(TimeSpan RetryAfter) : Verification;

    /// <summary>Two-factor is not in the state the operation needs (not enrolled, not enabled, already enabled).</summary>
    public sealed record WrongState : Verification;
}

/// <summary>
/// The one place a second factor is checked, inside the caller's transaction with the account's two-factor row locked,
/// so two requests carrying the same code cannot both pass. Wrong codes are counted per account: after
/// <see cref="TwoFactorOptions.MaxFailures"/> within <see cref="TwoFactorOptions.FailureWindow"/> every code waits,
/// the right one too, or guessing would go on. Only someone who knows the password reaches this check, so an anonymous
/// attacker cannot use it to lock anyone out. A right code clears the count.
/// </summary>
public sealed class SecondFactorCheck(TwoFactorSecrets secrets, AuditLog audit, IOptions<TwoFactorOptions> options, TimeProvider time)
{
    // enabled: true when two-factor must be on, false when enrolment must be pending (confirming it).
    // failed: the audit event a wrong code writes; its detail gains the method, the reason and the count.
    public async Task<Verification> VerifyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, SecondFactor factor,
        bool enabled, AuditEvent failed, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var find = new NpgsqlCommand(
            "SELECT secret, enabled_at IS NOT NULL, last_used_step, failures, failure_window_started FROM a67.two_factor WHERE account_id = @account FOR UPDATE",
            connection, transaction);
        find.Parameters.AddWithValue("account", accountId);
        byte[] sealedSecret;
        long? lastUsedStep;
        int failures;
        DateTimeOffset? windowStarted;
        await using (var reader = await find.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct) || reader.GetBoolean(1) != enabled)
            {
                return new Verification.WrongState();
            }

            sealedSecret = reader.GetFieldValue<byte[]>(0);
            lastUsedStep = reader.IsDBNull(2) ? null : reader.GetInt64(2);
            failures = reader.GetInt32(3);
            windowStarted = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4);
        }

        var settings = options.Value;
        if (windowStarted is null || windowStarted.Value + settings.FailureWindow <= now)
        {
            (failures, windowStarted) = (0, now);
        }

        if (failures >= settings.MaxFailures)
        {
            return new Verification.Locked(windowStarted.Value + settings.FailureWindow - now);
        }

        var reason = factor.Code is { } code
            ? await CheckCodeAsync(connection, transaction, accountId, code, secrets.Open(accountId, sealedSecret), lastUsedStep, ct)
            : enabled ? await SpendBackupCodeAsync(connection, transaction, accountId, factor.BackupCode!, now, ct) : "backup codes exist only once two-factor is on";
        if (reason is null)
        {
            return new Verification.Accepted(factor.Method);
        }

        await using (var count = new NpgsqlCommand(
            "UPDATE a67.two_factor SET failures = @failures, failure_window_started = @started WHERE account_id = @account", connection, transaction))
        {
            count.Parameters.AddWithValue("failures", failures + 1);
            count.Parameters.AddWithValue("started", windowStarted.Value);
            count.Parameters.AddWithValue("account", accountId);
            await count.ExecuteNonQueryAsync(ct);
        }

        var detail = new Dictionary<string, object?>(failed.Detail ?? new Dictionary<string, object?>())
        {
            ["method"] = factor.Method,
            ["reason"] = reason,
            ["failures"] = failures + 1,
        };
        await audit.WriteAsync(connection, transaction, failed with { Detail = detail }, ct);
        return new Verification.Wrong(reason);
    }

    // Null when accepted; else why not. Accepting records the step (a code is good once) and clears the failure count.
    async Task<string?> CheckCodeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, string code, byte[] secret, long? lastUsedStep, CancellationToken ct)
    {
        var (match, step) = Totp.Verify(secret, code, time, lastUsedStep);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);
        if (match != TotpMatch.Accepted)
        {
            return match == TotpMatch.Replayed ? "code already used" : "wrong code";
        }

        await using var accept = new NpgsqlCommand(
            "UPDATE a67.two_factor SET last_used_step = @step, failures = 0, failure_window_started = NULL WHERE account_id = @account", connection, transaction);
        accept.Parameters.AddWithValue("step", step);
        accept.Parameters.AddWithValue("account", accountId);
        await accept.ExecuteNonQueryAsync(ct);
        return null;
    }

    static async Task<string?> SpendBackupCodeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, string backupCode, DateTimeOffset now, CancellationToken ct)
    {
        // Spends the code and clears the failure count in one statement; the count is 1 exactly when a code was spent.
        await using var spend = new NpgsqlCommand("""
            WITH spent AS (
                UPDATE a67.two_factor_backup_codes SET used_at = @now
                WHERE account_id = @account AND code_hash = @hash AND used_at IS NULL
                RETURNING 1)
            UPDATE a67.two_factor SET failures = 0, failure_window_started = NULL
            WHERE account_id = @account AND EXISTS (SELECT 1 FROM spent)
            """, connection, transaction);
        spend.Parameters.AddWithValue("now", now);
        spend.Parameters.AddWithValue("account", accountId);
        spend.Parameters.AddWithValue("hash", BackupCodes.Hash(backupCode));
        return await spend.ExecuteNonQueryAsync(ct) > 0 ? null : "wrong or used backup code";
    }
}
