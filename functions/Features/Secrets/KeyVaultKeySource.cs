using System.Security.Cryptography;
using Azure;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// The KEK as a Key Vault secret (base64 of 256 random bits): each version of the vault secret is a KEK version
/// (<c>kv:VERSION</c>), so a rotation is a new version and the older ones stay readable. Reached through the real
/// <see cref="SecretClient"/> (challenge-based bearer auth, <c>DefaultAzureCredential</c> in production). Any failure
/// to reach or read the vault is a <see cref="KeyUnavailableException"/>: the caller waits and tries again.
/// </summary>
public sealed class KeyVaultKeySource(SecretClient client, string secretName) : IKeyEncryptionKeySource
{
    const string Prefix = "kv:";
    const string ContentType = "application/vnd.automator67.kek+base64";

    public string Description => $"the Key Vault secret {secretName} at {client.VaultUri}";

    public Task<string> LatestAsync(CancellationToken ct) => CallAsync("read the newest version of", async () =>
    {
        try
        {
            var latest = await client.GetSecretAsync(secretName, null, ct);
            return Prefix + latest.Value.Properties.Version;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // First start against this vault: the first version is made here (the identity needs "set" on secrets).
            return await CreateAsync(ct);
        }
    });

    public Task<byte[]> GetAsync(string id, CancellationToken ct) => CallAsync($"read version {id} of", async () =>
    {
        if (!id.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new KeyUnavailableException($"the key-encryption key {id} is not a Key Vault version; it was made with Secrets__KeyFile (set that file, without Secrets__KeyVaultUri, to read it)");
        }

        var secret = await client.GetSecretAsync(secretName, id[Prefix.Length..], ct);
        var key = Convert.FromBase64String(secret.Value.Value);
        return key.Length == 32 ? key : throw new KeyUnavailableException($"version {id} of {Description} is not a 256-bit key");
    });

    public Task<string> CreateVersionAsync(CancellationToken ct) => CallAsync("add a version to", () => CreateAsync(ct));

    async Task<string> CreateAsync(CancellationToken ct)
    {
        var secret = new KeyVaultSecret(secretName, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        secret.Properties.ContentType = ContentType;
        var made = await client.SetSecretAsync(secret, ct);
        return Prefix + made.Value.Properties.Version;
    }

    async Task<T> CallAsync<T>(string what, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is RequestFailedException or AuthenticationFailedException or CredentialUnavailableException or HttpRequestException
            or FormatException or TaskCanceledException or AggregateException)
        {
            throw new KeyUnavailableException($"cannot {what} {Description}: {ex.GetBaseException().Message}", ex);
        }
    }
}
