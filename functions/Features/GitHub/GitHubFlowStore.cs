using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Automator67.Functions.Features.GitHub;

/// <summary>A flow as the callback needs it. <see cref="AccountId"/> set: link to that account, while <see cref="SessionId"/> lives.</summary>
public sealed record GitHubFlow(string CodeVerifier, string RedirectUri, Guid? AccountId, Guid? SessionId);

/// <summary>What presenting a state (with the browser's flow id) found.</summary>
public abstract record FlowCheck
{
    public sealed record Valid(GitHubFlow Flow) : FlowCheck;

    /// <summary>Why the state was refused, in words fit for the user and the audit log.</summary>
    public sealed record Refused(string Reason, string Detail) : FlowCheck;
}

/// <summary>
/// Authorization-code flows in progress (RFC 9700 §2.1: state and PKCE S256). The state travels through GitHub; the
/// flow id stays in an HttpOnly cookie of the browser that started the flow. The callback needs both, so a state
/// alone, e.g. one an attacker obtained and plants in a victim's browser, leads nowhere. Each state is used once.
/// </summary>
public sealed class GitHubFlowStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const string Provider = "github";
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    /// <summary>Starts a flow; returns the state and PKCE challenge for GitHub and the flow id for the cookie.</summary>
    public async Task<(string State, string CodeChallenge, string FlowId)> StartAsync(string redirectUri, Guid? accountId, Guid? sessionId, CancellationToken ct)
    {
        var state = Random(16);
        var flowId = Random(32);
        var verifier = Random(32);
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            DELETE FROM a67.external_login_flows WHERE expires_at < @stale;
            INSERT INTO a67.external_login_flows (state_hash, flow_hash, provider, code_verifier, redirect_uri, account_id, session_id, created_at, expires_at)
            VALUES (@state, @flow, @provider, @verifier, @redirect, @account, @session, @now, @expires);
            """);
        command.Parameters.AddWithValue("stale", now - Lifetime - TimeSpan.FromHours(1));
        command.Parameters.AddWithValue("state", Hash(state));
        command.Parameters.AddWithValue("flow", Hash(flowId));
        command.Parameters.AddWithValue("provider", Provider);
        command.Parameters.AddWithValue("verifier", verifier);
        command.Parameters.AddWithValue("redirect", redirectUri);
        command.Parameters.AddWithValue("account", (object?)accountId ?? DBNull.Value);
        command.Parameters.AddWithValue("session", (object?)sessionId ?? DBNull.Value);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("expires", now + Lifetime);
        await command.ExecuteNonQueryAsync(ct);
        return (state, Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))), flowId);
    }

    /// <summary>
    /// Uses up the flow named by <paramref name="state"/>, whatever the outcome: once a state has been presented it
    /// is spent, so a replay or a guess in another browser cannot be retried.
    /// </summary>
    public async Task<FlowCheck> UseAsync(string state, string flowId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var find = new NpgsqlCommand("""
            SELECT flow_hash, code_verifier, redirect_uri, account_id, session_id, expires_at, used_at
            FROM a67.external_login_flows WHERE state_hash = @state AND provider = @provider FOR UPDATE
            """, connection, transaction);
        find.Parameters.AddWithValue("state", Hash(state));
        find.Parameters.AddWithValue("provider", Provider);
        byte[] flowHash;
        GitHubFlow flow;
        DateTimeOffset expiresAt;
        bool used;
        await using (var reader = await find.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return new FlowCheck.Refused("state unknown", "The state is not one this instance issued. Start the sign-in again.");
            }

            flowHash = reader.GetFieldValue<byte[]>(0);
            flow = new GitHubFlow(reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.IsDBNull(4) ? null : reader.GetGuid(4));
            expiresAt = reader.GetFieldValue<DateTimeOffset>(5);
            used = !reader.IsDBNull(6);
        }

        if (used)
        {
            return new FlowCheck.Refused("state reused", "This sign-in was already completed or refused; a state is used once. Start the sign-in again.");
        }

        // The verifier is not needed after this request; it is blanked with the flow.
        await using (var spend = new NpgsqlCommand("UPDATE a67.external_login_flows SET used_at = @now, code_verifier = '' WHERE state_hash = @state", connection, transaction))
        {
            spend.Parameters.AddWithValue("now", now);
            spend.Parameters.AddWithValue("state", Hash(state));
            await spend.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        if (!CryptographicOperations.FixedTimeEquals(flowHash, Hash(flowId)))
        {
            return new FlowCheck.Refused("flow cookie mismatch", "This sign-in was started in another browser, or its cookie was replaced. Start the sign-in again here.");
        }

        return expiresAt <= now
            ? new FlowCheck.Refused("state expired", $"The sign-in took longer than {Lifetime.TotalMinutes:0} minutes. Start it again.")
            : new FlowCheck.Valid(flow);
    }

    /// <summary>Whether a value could be one of our random ids (base64url, bounded), checked before any lookup.</summary>
    public static bool IsWellFormed(string? value) =>
        value is { Length: >= 16 and <= 64 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    static string Random(int bytes) => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(bytes));

    static byte[] Hash(string value) => SHA256.HashData(Encoding.ASCII.GetBytes(value));
}
