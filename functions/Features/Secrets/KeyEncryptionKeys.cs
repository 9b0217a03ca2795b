using System.Collections.Concurrent;
using Npgsql;

namespace Automator67.Functions.Features.Secrets;

/// <summary>The KEK version new secrets are wrapped with, and its key.</summary>
public sealed record ActiveKek(string Id, byte[] Key);

/// <summary>
/// The key-encryption keys: which version is active (one row, <c>a67.secret_key_state</c>, so every control-plane
/// process agrees), and the keys themselves from the source, each version kept in memory once read (versions never
/// change). Writers read the active version <c>FOR SHARE</c>; a rotation updates it, so no write can wrap with the old
/// version after the rewrap has started moving rows away from it.
/// </summary>
public sealed class KeyEncryptionKeys(IKeyEncryptionKeySource source, TimeProvider time)
{
    readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    public string Description => source.Description;

    /// <summary>The active version, locked for share in the caller's transaction; made on first use.</summary>
    public async Task<ActiveKek> ActiveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        var id = await ReadActiveAsync(connection, transaction, ct);
        if (id is null)
        {
            await using var insert = new NpgsqlCommand("INSERT INTO a67.secret_key_state (active_kek, rotated_at) VALUES (@kek, @now) ON CONFLICT DO NOTHING",
                connection, transaction);
            insert.Parameters.AddWithValue("kek", await source.LatestAsync(ct));
            insert.Parameters.AddWithValue("now", time.GetUtcNow());
            await insert.ExecuteNonQueryAsync(ct);
            id = await ReadActiveAsync(connection, transaction, ct) ?? throw new InvalidOperationException("a67.secret_key_state is empty after its insert");
        }

        return new ActiveKek(id, await KeyAsync(id, ct));
    }

    /// <summary>The key of version <paramref name="id"/>; throws <see cref="KeyUnavailableException"/>.</summary>
    public async Task<byte[]> KeyAsync(string id, CancellationToken ct)
    {
        if (_keys.TryGetValue(id, out var key))
        {
            return key;
        }

        key = await source.GetAsync(id, ct);
        _keys[id] = key;
        return key;
    }

    /// <summary>
    /// Makes a new KEK version and makes it the active one (in the caller's transaction, which holds the state row
    /// exclusively until it commits). Returns the old and new ids. The old version stays readable in its source.
    /// </summary>
    public async Task<(string? From, string To)> RotateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using (var lockRow = new NpgsqlCommand("SELECT active_kek FROM a67.secret_key_state FOR UPDATE", connection, transaction))
        {
            var from = await lockRow.ExecuteScalarAsync(ct) as string;
            var to = await source.CreateVersionAsync(ct);
            await KeyAsync(to, ct);
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO a67.secret_key_state (active_kek, rotated_at) VALUES (@kek, @now)
                ON CONFLICT (singleton) DO UPDATE SET active_kek = excluded.active_kek, rotated_at = excluded.rotated_at
                """, connection, transaction);
            upsert.Parameters.AddWithValue("kek", to);
            upsert.Parameters.AddWithValue("now", time.GetUtcNow());
            await upsert.ExecuteNonQueryAsync(ct);
            return (from, to);
        }
    }

    static async Task<string?> ReadActiveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT active_kek FROM a67.secret_key_state FOR SHARE", connection, transaction);
        return await command.ExecuteScalarAsync(ct) as string;
    }
}
