using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Audit;

/// <summary>Event types in the audit log; stable strings, filterable in <c>GET /api/audit</c>.</summary>
public static class AuditTypes
{
    public const string Signup = "auth.signup";
    public const string LoginSucceeded = "auth.login.succeeded";
    public const string LoginFailed = "auth.login.failed";
    public const string Logout = "auth.logout";
    public const string PasswordChanged = "auth.password.changed";
    public const string PasswordChangeFailed = "auth.password.change_failed";
    public const string SessionRevoked = "auth.session.revoked";
    public const string RefreshTokenReused = "auth.refresh.reused";
    public const string AuthorizationFailed = "auth.authorization.failed";
    public const string RateLimited = "auth.rate_limited";

    // Nodes: the detail names the node (id, name), never a join token or a credential.
    public const string JoinTokenCreated = "node.join_token.created";
    public const string NodeEnrolled = "node.enrolled";
    public const string NodeEnrollRefused = "node.enroll.refused";
    public const string NodeDraining = "node.draining";
    public const string NodeDeleted = "node.deleted";
    public const string NodeCredentialsRenewed = "node.credentials.renewed";
    public const string NodeCredentialsRefused = "node.credentials.refused";

    // Apps: the detail names the app (id, name) and, for an update, which fields changed.
    public const string AppCreated = "app.created";
    public const string AppUpdated = "app.updated";
    public const string AppDeleted = "app.deleted";
    /// <summary>DELETE of a deployed app: a remove operation (named in the detail) takes its replicas away, then <see cref="AppDeleted"/>.</summary>
    public const string AppRemovalRequested = "app.removal-requested";

    // Secrets and registry credentials: the detail names the secret (app or registry, name, version), never a value.
    public const string SecretWritten = "secret.written";
    public const string SecretDeleted = "secret.deleted";
    public const string SecretDecryptFailed = "secret.decrypt_failed";
    public const string SecretKeyRotated = "secret.key.rotated";
    public const string RegistryCreated = "registry.created";
    public const string RegistryDeleted = "registry.deleted";

    // Relay events: the detail names the node the message claims, the reason and the queue message id; never its content.
    public const string RelayEventRefused = "relay.event.refused";
    public const string RelayEventPoisoned = "relay.event.poisoned";
    public const string AccountCreated = "account.created";
    public const string AccountDisabled = "account.disabled";
    public const string AccountEnabled = "account.enabled";
    public const string RoleChanged = "account.role.changed";

    // Personal access tokens: the detail names the token (id, name), never its secret.
    public const string TokenCreated = "token.created";
    public const string TokenRevoked = "token.revoked";
    // GitHub sign-in: a sign-in (its session), an identity linked or unlinked, a refused callback (with its reason).
    public const string GitHubLogin = "auth.github.login";
    public const string GitHubLinked = "auth.github.linked";
    public const string GitHubUnlinked = "auth.github.unlinked";
    public const string GitHubFailed = "auth.github.failed";
    // Two-factor (detail: method, purpose, reason, failures; never a code or a secret).
    public const string TwoFactorEnrollmentStarted = "auth.2fa.enrollment_started";
    public const string TwoFactorEnabled = "auth.2fa.enabled";
    public const string TwoFactorDisabled = "auth.2fa.disabled";
    public const string TwoFactorChallenged = "auth.2fa.challenged";
    public const string TwoFactorVerified = "auth.2fa.verified";
    public const string TwoFactorFailed = "auth.2fa.failed";
    public const string TwoFactorBackupCodesRegenerated = "auth.2fa.backup_codes_regenerated";
}

/// <summary>Who did what to which account, from where. Never a secret: callers pass ids and reasons, not tokens or passwords.</summary>
public sealed record AuditEvent(string Type, Guid? AccountId, Guid? ActorId, string? Ip, string? UserAgent, IReadOnlyDictionary<string, object?>? Detail = null)
{
    public static AuditEvent From(HttpContext http, string type, Guid? accountId, Guid? actorId, IReadOnlyDictionary<string, object?>? detail = null) =>
        new(type, accountId, actorId, RequestOrigin.Ip(http), RequestOrigin.UserAgent(http), detail);
}

public sealed class AuditLog(NpgsqlDataSource dataSource, TimeProvider time)
{
    const string Insert = """
        INSERT INTO a67.audit_events (occurred_at, type, account_id, actor_id, ip, user_agent, detail)
        VALUES (@at, @type, @account, @actor, @ip, @agent, @detail)
        """;

    public async Task WriteAsync(AuditEvent audit, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(Insert);
        Bind(command, audit);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Writes inside the caller's transaction, so the event exists exactly when the change it records does.</summary>
    public async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AuditEvent audit, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(Insert, connection, transaction);
        Bind(command, audit);
        await command.ExecuteNonQueryAsync(ct);
    }

    void Bind(NpgsqlCommand command, AuditEvent audit)
    {
        command.Parameters.AddWithValue("at", time.GetUtcNow());
        command.Parameters.AddWithValue("type", audit.Type);
        command.Parameters.AddWithValue("account", (object?)audit.AccountId ?? DBNull.Value);
        command.Parameters.AddWithValue("actor", (object?)audit.ActorId ?? DBNull.Value);
        command.Parameters.AddWithValue("ip", (object?)audit.Ip ?? DBNull.Value);
        command.Parameters.AddWithValue("agent", (object?)audit.UserAgent ?? DBNull.Value);
        command.Parameters.Add(new NpgsqlParameter("detail", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(audit.Detail ?? new Dictionary<string, object?>()) });
    }
}

/// <summary>Where a request came from, bounded so a hostile header cannot bloat a row.</summary>
public static class RequestOrigin
{
    const int MaxUserAgent = 512;

    public static string Ip(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    public static string UserAgent(HttpContext http)
    {
        var agent = http.Request.Headers.UserAgent.ToString();
        agent = new string([.. agent.Where(c => !char.IsControl(c))]);
        return agent.Length > MaxUserAgent ? agent[..MaxUserAgent] : agent;
    }
}
