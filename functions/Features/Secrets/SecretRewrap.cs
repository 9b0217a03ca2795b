using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// After a rotation, moves every secret's data key to the active KEK, a batch per transaction
/// (<see cref="SecretsOptions.RewrapBatchSize"/>, rows locked with <c>SKIP LOCKED</c> so writers and a second run never
/// wait on it). Values are not re-encrypted: only the 60-byte wrapped key changes. The old KEK stays readable
/// throughout, so reads never stop; a Hangfire job, re-entrant (a second run finds fewer rows, or none).
/// </summary>
public sealed partial class SecretRewrap(NpgsqlDataSource dataSource, KeyEncryptionKeys keks, SecretStore store, IOptions<SecretsOptions> options,
    ILogger<SecretRewrap> logger)
{
    /// <summary>Rewraps until no row is left on an older KEK; returns how many were rewrapped and how many could not be (audited).</summary>
    [Hangfire.AutomaticRetry(Attempts = 10)]
    public async Task<(int Rewrapped, int Failed)> RunAsync(CancellationToken ct)
    {
        var failed = new List<Guid>();
        var total = 0;
        while (true)
        {
            var (count, failures) = await BatchAsync(failed, ct);
            total += count;
            failed.AddRange(failures);
            if (count == 0 && failures.Count == 0)
            {
                break;
            }
        }

        LogRewrapped(total, failed.Count);
        return (total, failed.Count);
    }

    async Task<(int, List<Guid>)> BatchAsync(List<Guid> skip, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var active = await keks.ActiveAsync(connection, transaction, ct);
        var rows = new List<(SecretIdentity Identity, EncryptedSecret Secret)>();
        await using (var select = new NpgsqlCommand("""
            SELECT id, account_id, CASE WHEN app_id IS NULL THEN 'registry' ELSE 'app' END, coalesce(app_id, registry_id), name, version, kek_id, wrapped_key
            FROM a67.secrets WHERE kek_id <> @active AND NOT (id = ANY(@skip))
            ORDER BY id LIMIT @batch FOR UPDATE SKIP LOCKED
            """, connection, transaction))
        {
            select.Parameters.AddWithValue("active", active.Id);
            select.Parameters.AddWithValue("skip", skip.ToArray());
            select.Parameters.AddWithValue("batch", options.Value.RewrapBatchSize);
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows.Add((new SecretIdentity(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetGuid(3), reader.GetString(4), reader.GetInt32(5)),
                    new EncryptedSecret(reader.GetString(6), reader.GetFieldValue<byte[]>(7), [])));
            }
        }

        var failures = new List<Guid>();
        var done = 0;
        foreach (var (identity, secret) in rows)
        {
            EncryptedSecret moved;
            try
            {
                moved = SecretCipher.Rewrap(identity, secret, await keks.KeyAsync(secret.KekId, ct), active);
            }
            catch (CryptographicException ex)
            {
                // An altered row stays as it is (and keeps failing closed when read); the others go on.
                await store.DecryptFailedAsync(identity, secret.KekId, $"rewrap: {ex.Message}", ct);
                failures.Add(identity.Id);
                continue;
            }

            await using var update = new NpgsqlCommand("UPDATE a67.secrets SET kek_id = @kek, wrapped_key = @wrapped WHERE id = @id", connection, transaction);
            update.Parameters.AddWithValue("kek", moved.KekId);
            update.Parameters.AddWithValue("wrapped", moved.WrappedKey);
            update.Parameters.AddWithValue("id", identity.Id);
            await update.ExecuteNonQueryAsync(ct);
            done++;
        }

        await transaction.CommitAsync(ct);
        if (done > 0)
        {
            LogBatch(done, active.Id);
        }

        return (done, failures);
    }

    [LoggerMessage(EventId = 1810, Level = LogLevel.Information, Message = "Rewrapped {Count} secret(s) with KEK {KekId}")]
    partial void LogBatch(int count, string kekId);

    [LoggerMessage(EventId = 1811, Level = LogLevel.Information, Message = "Rewrap finished: {Count} secret(s) moved to the active KEK, {Failed} could not be (audited)")]
    partial void LogRewrapped(int count, int failed);
}
