namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// Where the key-encryption key (KEK) lives: a local key file or Azure Key Vault. Versions are immutable once made,
/// so a version read once may be kept in memory. Ids carry the source (<c>file:3</c>, <c>kv:0f1e…</c>).
/// </summary>
public interface IKeyEncryptionKeySource
{
    /// <summary>What this source is, for messages (the file's path, the vault's URL).</summary>
    string Description { get; }

    /// <summary>The newest version's id, making the first version when there is none.</summary>
    Task<string> LatestAsync(CancellationToken ct);

    /// <summary>The 256-bit key of version <paramref name="id"/>; throws <see cref="KeyUnavailableException"/> when it cannot be read.</summary>
    Task<byte[]> GetAsync(string id, CancellationToken ct);

    /// <summary>Makes a new version (fresh random key) and returns its id; the older versions stay readable.</summary>
    Task<string> CreateVersionAsync(CancellationToken ct);
}

/// <summary>
/// The KEK cannot be read now (the vault is unreachable, refuses us, or the key file lacks the version). Nothing falls
/// back to clear text: an API call answers 503, an operation waits and tries again.
/// </summary>
public sealed class KeyUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
