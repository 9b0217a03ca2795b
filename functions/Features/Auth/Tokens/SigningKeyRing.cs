using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Automator67.Functions.Features.Auth.Tokens;

/// <summary>
/// The ES256 keys that sign access tokens, kept in a local key file (mode 0600) created on first start. A key older
/// than <see cref="AuthOptions.SigningKeyLifetime"/> is replaced at start; the replaced key still verifies until the
/// last token it signed has expired, then it is dropped. (Key Vault takes the file's place with the Azure issue.)
/// </summary>
public sealed class SigningKeyRing
{
    readonly TimeSpan _keyLifetime;
    readonly TimeSpan _retention;
    readonly TimeProvider _time;
    readonly string _path;
    IReadOnlyList<StoredKey> _keys = [];

    /// <summary>The ring that signs access tokens (<see cref="AuthOptions.SigningKeyFile"/>).</summary>
    public SigningKeyRing(IOptions<AuthOptions> options, TimeProvider time, IHostEnvironment environment)
        : this(Path.GetFullPath(options.Value.SigningKeyFile, environment.ContentRootPath), options.Value.SigningKeyLifetime, options.Value.AccessTokenLifetime, time)
    {
    }

    /// <param name="path">The key file.</param>
    /// <param name="keyLifetime">How long a key signs before a new one replaces it.</param>
    /// <param name="retention">How long a replaced key still verifies: the lifetime of what it signed.</param>
    /// <param name="time">The clock.</param>
    public SigningKeyRing(string path, TimeSpan keyLifetime, TimeSpan retention, TimeProvider time)
    {
        _path = path;
        _keyLifetime = keyLifetime;
        _retention = retention;
        _time = time;
        LoadOrRotate();
    }

    /// <summary>The key that signs new tokens.</summary>
    public ECDsaSecurityKey Active => _keys[^1].SecurityKey;

    /// <summary>Every key a valid token may carry: the active one and those retired less than a token lifetime ago.</summary>
    public IEnumerable<SecurityKey> ValidationKeys => _keys.Select(k => k.SecurityKey);

    /// <summary>The public keys as a JSON Web Key Set.</summary>
    public JwksDocument Jwks => new([.. _keys.Select(k => JwksKey.From(k.SecurityKey))]);

    /// <summary>Reads the file, creating it with a first key when missing, and rotates an old key.</summary>
    public void LoadOrRotate()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        // Several processes may share the file: one rotates at a time.
        using var fileLock = new FileStream(_path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        var now = _time.GetUtcNow();
        var file = File.Exists(_path) ? Read() : new KeyFile([]);
        var keys = file.Keys
            .Where(k => k.RetiredAt is null || k.RetiredAt.Value + _retention + TimeSpan.FromMinutes(1) > now)
            .ToList();
        var changed = keys.Count != file.Keys.Count;
        if (keys.Count == 0 || keys[^1].CreatedAt + _keyLifetime <= now)
        {
            if (keys.Count > 0)
            {
                keys[^1] = keys[^1] with { RetiredAt = now };
            }

            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            keys.Add(new KeyFileEntry(Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(12)), now, null, Convert.ToBase64String(ecdsa.ExportPkcs8PrivateKey())));
            changed = true;
        }

        if (changed)
        {
            Write(new KeyFile(keys));
        }

        _keys = [.. keys.Select(StoredKey.From)];
    }

    KeyFile Read()
    {
        try
        {
            return JsonSerializer.Deserialize<KeyFile>(File.ReadAllText(_path), JsonSerializerOptions.Web)
                ?? throw new JsonException("empty");
        }
        catch (JsonException ex)
        {
            throw new Automator67.Hosting.StartupException($"the signing key file {_path} is damaged ({ex.Message}); restore it from a backup, or delete it to create new keys (every signed-in user must then sign in again).");
        }
    }

    void Write(KeyFile file) => Automator67.Hosting.PrivateFile.Write(_path, stream => JsonSerializer.Serialize(stream, file, JsonSerializerOptions.Web));

    sealed record KeyFile(IReadOnlyList<KeyFileEntry> Keys);

    sealed record KeyFileEntry(string Kid, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt, string PrivateKey);

    sealed record StoredKey(DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt, ECDsaSecurityKey SecurityKey)
    {
        public static StoredKey From(KeyFileEntry entry)
        {
            var ecdsa = ECDsa.Create();
            ecdsa.ImportPkcs8PrivateKey(Convert.FromBase64String(entry.PrivateKey), out _);
            return new StoredKey(entry.CreatedAt, entry.RetiredAt, new ECDsaSecurityKey(ecdsa) { KeyId = entry.Kid });
        }
    }
}

public sealed record JwksDocument(IReadOnlyList<JwksKey> Keys);

/// <summary>One public key in the JWKS (RFC 7517): EC P-256 for ES256.</summary>
public sealed record JwksKey(string Kty, string Crv, string X, string Y, string Kid, string Use, string Alg)
{
    public static JwksKey From(ECDsaSecurityKey key)
    {
        var parameters = key.ECDsa.ExportParameters(includePrivateParameters: false);
        return new JwksKey("EC", "P-256", Base64UrlEncoder.Encode(parameters.Q.X), Base64UrlEncoder.Encode(parameters.Q.Y), key.KeyId, "sig", "ES256");
    }
}
