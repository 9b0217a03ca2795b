using System.Security.Cryptography;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Automator67.Functions.Features.Alerts;

/// <summary>A webhook with its signing secret, as the delivery job needs it.</summary>
public sealed record Webhook(Guid Id, Guid AccountId, string Name, string Url, string Secret, string SecretHint, DateTimeOffset CreatedAt, DateTimeOffset? SecretRotatedAt)
{
    public WebhookView View() => new(Id, Name, Url, SecretHint, CreatedAt, SecretRotatedAt);
}

/// <summary>
/// The webhooks table. The signing secret is generated here (<c>whsec_</c> + 32 random bytes, base64url) and kept as
/// is, since signing needs it back; issue 7's secret store will encrypt the column.
/// </summary>
public sealed class WebhookStore(NpgsqlDataSource dataSource, AuditLog audit, TimeProvider time)
{
    public const string SecretPrefix = "whsec_";
    public const string NameIndex = "webhooks_account_id_name_key";
    const int HintLength = 4;
    const string Columns = "id, account_id, name, url, secret, secret_hint, created_at, secret_rotated_at";

    static string NewSecret() => SecretPrefix + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    public async Task<Webhook> CreateAsync(Guid accountId, string name, string url, AuditEvent created, CancellationToken ct)
    {
        var secret = NewSecret();
        var webhook = new Webhook(Guid.CreateVersion7(), accountId, name, url, secret, secret[^HintLength..], time.GetUtcNow(), null);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO a67.webhooks (id, account_id, name, url, secret, secret_hint, created_at)
            VALUES (@id, @account, @name, @url, @secret, @hint, @created)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", webhook.Id);
            insert.Parameters.AddWithValue("account", accountId);
            insert.Parameters.AddWithValue("name", name);
            insert.Parameters.AddWithValue("url", url);
            insert.Parameters.AddWithValue("secret", secret);
            insert.Parameters.AddWithValue("hint", webhook.SecretHint);
            insert.Parameters.AddWithValue("created", webhook.CreatedAt);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await audit.WriteAsync(connection, transaction, created with { Detail = Detail(webhook) }, ct);
        await transaction.CommitAsync(ct);
        return webhook;
    }

    public async Task<IReadOnlyList<Webhook>> ListAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.webhooks WHERE account_id = @account ORDER BY name");
        command.Parameters.AddWithValue("account", accountId);
        return await command.ReadAllAsync(Read, ct);
    }

    /// <summary>One webhook; null for a missing one and for another account's alike (<paramref name="accountId"/> null: any account's, for the delivery job).</summary>
    public async Task<Webhook?> FindAsync(Guid? accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.webhooks WHERE id = @id AND (@account::uuid IS NULL OR account_id = @account)");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", (object?)accountId ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>Deletes the webhook, its links to rules and its delivery history; audited. False when the account has no such webhook.</summary>
    public async Task<bool> DeleteAsync(Guid accountId, Guid id, AuditEvent deleted, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand($"DELETE FROM a67.webhooks WHERE id = @id AND account_id = @account RETURNING {Columns}", connection, transaction);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        Webhook? webhook;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            webhook = await reader.ReadAsync(ct) ? Read(reader) : null;
        }

        if (webhook is null)
        {
            return false;
        }

        await audit.WriteAsync(connection, transaction, deleted with { Detail = Detail(webhook) }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>A new secret for the webhook; the old one signs nothing from now on (pending retries sign with the new one).</summary>
    public async Task<Webhook?> RotateSecretAsync(Guid accountId, Guid id, AuditEvent rotated, CancellationToken ct)
    {
        var secret = NewSecret();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand($"""
            UPDATE a67.webhooks SET secret = @secret, secret_hint = @hint, secret_rotated_at = @now
            WHERE id = @id AND account_id = @account RETURNING {Columns}
            """, connection, transaction);
        command.Parameters.AddWithValue("secret", secret);
        command.Parameters.AddWithValue("hint", secret[^HintLength..]);
        command.Parameters.AddWithValue("now", time.GetUtcNow());
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        Webhook? webhook;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            webhook = await reader.ReadAsync(ct) ? Read(reader) : null;
        }

        if (webhook is null)
        {
            return null;
        }

        await audit.WriteAsync(connection, transaction, rotated with { Detail = Detail(webhook) }, ct);
        await transaction.CommitAsync(ct);
        return webhook;
    }

    /// <summary>Which of <paramref name="ids"/> are not the account's webhooks.</summary>
    public async Task<Guid[]> UnknownAsync(Guid accountId, IReadOnlyCollection<Guid> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand("SELECT id FROM a67.webhooks WHERE account_id = @account AND id = ANY(@ids)");
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        var known = (await command.ReadAllAsync(reader => reader.GetGuid(0), ct)).ToHashSet();

        return [.. ids.Where(id => !known.Contains(id))];
    }

    // The audit names the webhook and the host it points at; never its secret, nor the URL's path, which for some
    // receivers (chat incoming webhooks) is a secret itself.
    static Dictionary<string, object?> Detail(Webhook webhook) =>
        new() { ["webhookId"] = webhook.Id, ["name"] = webhook.Name, ["host"] = new Uri(webhook.Url).Authority };

    static Webhook Read(NpgsqlDataReader reader) => new(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
        reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7));
}
