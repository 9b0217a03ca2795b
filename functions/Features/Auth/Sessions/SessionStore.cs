using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Audit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Auth.Sessions;

public sealed record Session(Guid Id, Guid AccountId, string UserAgent, string Ip, DateTimeOffset CreatedAt, DateTimeOffset LastUsedAt, DateTimeOffset ExpiresAt);

/// <summary>What presenting a refresh token led to.</summary>
public abstract record RefreshOutcome
{
    public sealed record Rotated(Session Session, Account Account, string RefreshToken) : RefreshOutcome;

    /// <summary>The token had already been rotated: someone holds a copy, so its whole family was revoked.</summary>
    public sealed record Reused(Guid SessionId, Guid AccountId) : RefreshOutcome;

    public sealed record Refused : RefreshOutcome;
}

/// <summary>
/// Sign-in sessions and their rotating refresh tokens (RFC 9700 §4.14.2). A refresh token is 256 random bits, shown
/// to its holder once and stored as its SHA-256 hash; each use replaces it, and a second use of one token revokes the
/// session. Sessions end at an absolute expiry and after an idle timeout.
/// </summary>
public sealed class SessionStore(NpgsqlDataSource dataSource, AuditLog audit, IOptions<AuthOptions> options, TimeProvider time)
{
    public const string RefreshTokenPrefix = "a67_rt_";

    public async Task<(Session Session, string RefreshToken)> StartAsync(Account account, string userAgent, string ip, AuditEvent login, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var session = new Session(Guid.CreateVersion7(), account.Id, userAgent, ip, now, now, now + options.Value.SessionLifetime);
        var (token, hash) = NewRefreshToken();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO a67.sessions (id, account_id, user_agent, ip, created_at, last_used_at, expires_at)
            VALUES (@id, @account, @agent, @ip, @now, @now, @expires);
            INSERT INTO a67.refresh_tokens (token_hash, session_id, created_at) VALUES (@hash, @id, @now);
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", session.Id);
            insert.Parameters.AddWithValue("account", account.Id);
            insert.Parameters.AddWithValue("agent", userAgent);
            insert.Parameters.AddWithValue("ip", ip);
            insert.Parameters.AddWithValue("now", now);
            insert.Parameters.AddWithValue("expires", session.ExpiresAt);
            insert.Parameters.AddWithValue("hash", hash);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await audit.WriteAsync(connection, transaction, login with { Detail = new Dictionary<string, object?> { ["sessionId"] = session.Id } }, ct);
        await transaction.CommitAsync(ct);
        return (session, token);
    }

    /// <summary>Exchanges a refresh token for a new one, in one transaction with the token's row locked.</summary>
    public async Task<RefreshOutcome> RotateAsync(string refreshToken, AuditEvent context, CancellationToken ct)
    {
        if (Hash(refreshToken) is not { } hash)
        {
            return new RefreshOutcome.Refused();
        }

        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var find = new NpgsqlCommand($"""
            SELECT t.used_at, s.id, s.user_agent, s.ip, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
                   a.id, a.email, a.password_hash, a.role, a.disabled_at, a.created_at
            FROM a67.refresh_tokens t
            JOIN a67.sessions s ON s.id = t.session_id
            JOIN a67.accounts a ON a.id = s.account_id
            WHERE t.token_hash = @hash
            FOR UPDATE OF t, s
            """, connection, transaction);
        find.Parameters.AddWithValue("hash", hash);
        Session session;
        Account account;
        bool used, revoked;
        await using (var reader = await find.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return new RefreshOutcome.Refused();
            }

            used = !reader.IsDBNull(0);
            revoked = !reader.IsDBNull(7);
            account = new Account(reader.GetGuid(8), reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10), reader.GetString(11),
                reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12), reader.GetFieldValue<DateTimeOffset>(13));
            session = new Session(reader.GetGuid(1), account.Id, reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6));
        }

        if (used)
        {
            if (!revoked)
            {
                await RevokeAsync(connection, transaction, session.Id, "refresh token reused", now, ct);
            }

            await audit.WriteAsync(connection, transaction, context with
            {
                Type = AuditTypes.RefreshTokenReused,
                AccountId = account.Id,
                Detail = new Dictionary<string, object?> { ["sessionId"] = session.Id },
            }, ct);
            await transaction.CommitAsync(ct);
            return new RefreshOutcome.Reused(session.Id, account.Id);
        }

        if (revoked || account.IsDisabled || session.ExpiresAt <= now || session.LastUsedAt + options.Value.SessionIdleTimeout <= now)
        {
            return new RefreshOutcome.Refused();
        }

        var (token, newHash) = NewRefreshToken();
        await using (var rotate = new NpgsqlCommand("""
            UPDATE a67.refresh_tokens SET used_at = @now WHERE token_hash = @old;
            INSERT INTO a67.refresh_tokens (token_hash, session_id, created_at) VALUES (@new, @session, @now);
            UPDATE a67.sessions SET last_used_at = @now WHERE id = @session;
            """, connection, transaction))
        {
            rotate.Parameters.AddWithValue("now", now);
            rotate.Parameters.AddWithValue("old", hash);
            rotate.Parameters.AddWithValue("new", newHash);
            rotate.Parameters.AddWithValue("session", session.Id);
            await rotate.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        return new RefreshOutcome.Rotated(session with { LastUsedAt = now }, account, token);
    }

    /// <summary>Revokes one of the account's sessions; false when it has no such session (someone else's answers the same).</summary>
    public async Task<bool> RevokeAsync(Guid accountId, Guid sessionId, string reason, AuditEvent revoked, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var check = new NpgsqlCommand("SELECT 1 FROM a67.sessions WHERE id = @id AND account_id = @account AND revoked_at IS NULL FOR UPDATE", connection, transaction);
        check.Parameters.AddWithValue("id", sessionId);
        check.Parameters.AddWithValue("account", accountId);
        if (await check.ExecuteScalarAsync(ct) is null)
        {
            return false;
        }

        await RevokeAsync(connection, transaction, sessionId, reason, time.GetUtcNow(), ct);
        await audit.WriteAsync(connection, transaction, revoked with { Detail = new Dictionary<string, object?> { ["sessionId"] = sessionId, ["reason"] = reason } }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Ends every session of an account (disabling it); runs in the caller's transaction.</summary>
    public static async Task RevokeAllAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, string reason, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "UPDATE a67.sessions SET revoked_at = @now, revoked_reason = @reason WHERE account_id = @account AND revoked_at IS NULL", connection, transaction);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("reason", reason);
        command.Parameters.AddWithValue("account", accountId);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The account's sessions that can still be refreshed, newest first.</summary>
    public async Task<IReadOnlyList<Session>> ListActiveAsync(Guid accountId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            SELECT id, account_id, user_agent, ip, created_at, last_used_at, expires_at FROM a67.sessions
            WHERE account_id = @account AND revoked_at IS NULL AND expires_at > @now AND last_used_at > @idle
            ORDER BY created_at DESC
            """);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("idle", now - options.Value.SessionIdleTimeout);
        var sessions = new List<Session>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            sessions.Add(new Session(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return sessions;
    }

    /// <summary>
    /// The account's current role when a bearer of this account and session may still act (account enabled, session
    /// not revoked), else null. The role is read here rather than trusted from the token, so a demotion applies at once.
    /// </summary>
    public async Task<string?> ActiveRoleAsync(Guid accountId, Guid sessionId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT a.role FROM a67.sessions s JOIN a67.accounts a ON a.id = s.account_id
            WHERE s.id = @session AND a.id = @account AND s.revoked_at IS NULL AND a.disabled_at IS NULL
            """);
        command.Parameters.AddWithValue("session", sessionId);
        command.Parameters.AddWithValue("account", accountId);
        return await command.ExecuteScalarAsync(ct) as string;
    }

    static async Task RevokeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid sessionId, string reason, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("UPDATE a67.sessions SET revoked_at = @now, revoked_reason = @reason WHERE id = @id AND revoked_at IS NULL", connection, transaction);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("reason", reason);
        command.Parameters.AddWithValue("id", sessionId);
        await command.ExecuteNonQueryAsync(ct);
    }

    static (string Token, byte[] Hash) NewRefreshToken() => OpaqueTokens.Create(RefreshTokenPrefix);

    // Anything that is not one of our tokens is refused before touching the database.
    static byte[]? Hash(string token) =>
        token.Length is > 7 and < 100 && token.StartsWith(RefreshTokenPrefix, StringComparison.Ordinal) && token.All(char.IsAscii)
            ? OpaqueTokens.Hash(token)
            : null;
}
