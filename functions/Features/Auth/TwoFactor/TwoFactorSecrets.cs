using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>
/// Encrypts TOTP secrets at rest with AES-256-GCM under a key kept in a local key file (mode 0600), the way the
/// token-signing keys are kept until Key Vault arrives. The account id is the associated data, so a sealed secret
/// copied onto another account's row does not open. Stored form: version (1 byte) ‖ nonce (12) ‖ ciphertext ‖ tag (16).
/// </summary>
public sealed class TwoFactorSecrets
{
    const byte Version = 1;
    const int NonceSize = 12;
    const int TagSize = 16;

    // Loaded on first use: every login asks whether two-factor is on, and that must not create a key file.
    readonly Lazy<byte[]> _key;

    public TwoFactorSecrets(IOptions<TwoFactorOptions> options, IHostEnvironment environment)
    {
        var path = Path.GetFullPath(options.Value.SecretKeyFile, environment.ContentRootPath);
        _key = new(() => File.Exists(path) ? Read(path) : Create(path));
    }

    public byte[] Seal(Guid accountId, ReadOnlySpan<byte> secret)
    {
        var sealedSecret = new byte[1 + NonceSize + secret.Length + TagSize];
        sealedSecret[0] = Version;
        var nonce = sealedSecret.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key.Value, TagSize);
        aes.Encrypt(nonce, secret, sealedSecret.AsSpan(1 + NonceSize, secret.Length), sealedSecret.AsSpan(^TagSize), accountId.ToByteArray());
        return sealedSecret;
    }

    /// <summary>Decrypts a sealed secret; throws <see cref="CryptographicException"/> when it was altered, moved or sealed under another key.</summary>
    public byte[] Open(Guid accountId, byte[] sealedSecret)
    {
        if (sealedSecret.Length <= 1 + NonceSize + TagSize || sealedSecret[0] != Version)
        {
            throw new CryptographicException("the stored two-factor secret has an unknown format");
        }

        var secret = new byte[sealedSecret.Length - 1 - NonceSize - TagSize];
        using var aes = new AesGcm(_key.Value, TagSize);
        aes.Decrypt(sealedSecret.AsSpan(1, NonceSize), sealedSecret.AsSpan(1 + NonceSize, secret.Length), sealedSecret.AsSpan(^TagSize), secret, accountId.ToByteArray());
        return secret;
    }

    static byte[] Create(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Placed without overwriting: when two processes start at once, one key wins and both use it.
        var key = new KeyFile(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        Automator67.Hosting.PrivateFile.Write(path, stream => JsonSerializer.Serialize(stream, key, JsonSerializerOptions.Web), overwrite: false);
        return Read(path);
    }

    static byte[] Read(string path)
    {
        try
        {
            var file = JsonSerializer.Deserialize<KeyFile>(File.ReadAllText(path), JsonSerializerOptions.Web);
            var key = Convert.FromBase64String(file?.Key ?? "");
            return key.Length == 32 ? key : throw new JsonException("the key is not 256 bits");
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new Automator67.Hosting.StartupException($"the two-factor key file {path} is damaged ({ex.Message}); restore it from a backup. Deleting it makes every enrolled authenticator useless: users then need a backup code.");
        }
    }

    sealed record KeyFile(string Key);
}
