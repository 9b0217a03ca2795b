using System.Collections.Concurrent;
using System.Security.Cryptography;
using Npgsql;

namespace Automator67.Functions.Features.Relay;

/// <summary>A node's enrolled public key (SubjectPublicKeyInfo) and its account, as events are verified against it.</summary>
public sealed record NodeKey(Guid NodeId, Guid AccountId, byte[] PublicKey)
{
    /// <summary>A key object of the caller's own: ECDsa instances are not shared between threads.</summary>
    public ECDsa CreateKey()
    {
        var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(PublicKey, out _);
        return key;
    }
}

/// <summary>
/// The enrolled public keys of nodes, read from <c>a67.nodes</c> and kept briefly (a node's key never changes; an
/// unknown id is remembered for less, so a flood of forged ids costs one query each few seconds). A node deleted
/// while its key is cached is still refused: applying an event needs its row.
/// </summary>
public sealed class NodeKeys(NpgsqlDataSource dataSource, TimeProvider time)
{
    static readonly TimeSpan KnownLifetime = TimeSpan.FromSeconds(30);
    static readonly TimeSpan UnknownLifetime = TimeSpan.FromSeconds(5);
    const int MaxEntries = 10_000;

    readonly ConcurrentDictionary<Guid, (NodeKey? Key, DateTimeOffset Until)> _cache = new();

    public async ValueTask<NodeKey?> FindAsync(Guid nodeId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(nodeId, out var cached) && cached.Until > now)
        {
            return cached.Key;
        }

        await using var command = dataSource.CreateCommand("SELECT account_id, public_key FROM a67.nodes WHERE id = @id");
        command.Parameters.AddWithValue("id", nodeId);
        NodeKey? key = null;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct))
            {
                key = new NodeKey(nodeId, reader.GetGuid(0), reader.GetFieldValue<byte[]>(1));
            }
        }

        if (_cache.Count >= MaxEntries)
        {
            _cache.Clear();
        }

        _cache[nodeId] = (key, now + (key is null ? UnknownLifetime : KnownLifetime));
        return key;
    }
}
