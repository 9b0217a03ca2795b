using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// The KEK in a local key file (mode 0600, created on first use): every version ever made, numbered, so secrets
/// wrapped by an older one stay readable until the rewrap after a rotation has moved them. For one host; a control
/// plane of several instances should use Key Vault (or share the file). Version ids name the file too
/// (<c>file:FILEID.N</c>): a file made anew (the old one lost) never passes its keys off as the lost ones, so its
/// secrets are "key unavailable", not "altered".
/// </summary>
public sealed class LocalKeyFileSource(IOptions<SecretsOptions> options, IHostEnvironment environment) : IKeyEncryptionKeySource
{
    const string Prefix = "file:";
    readonly string _path = Path.GetFullPath(options.Value.KeyFile, environment.ContentRootPath);
    readonly Lock _gate = new();

    public string Description => $"the key file {_path}";

    public Task<string> LatestAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            var file = ReadOrCreate();
            return Task.FromResult(IdOf(file, file.Keys.Max(k => k.Version)));
        }
    }

    public Task<byte[]> GetAsync(string id, CancellationToken ct)
    {
        lock (_gate)
        {
            var file = ReadOrCreate();
            var key = file.Keys.FirstOrDefault(k => IdOf(file, k.Version) == id)
                ?? throw new KeyUnavailableException($"the key-encryption key {id} is not in {Description} (restore the file from a backup, or set Secrets__KeyVaultUri if it lives in Key Vault)");
            return Task.FromResult(Convert.FromBase64String(key.Key));
        }
    }

    public Task<string> CreateVersionAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            var file = ReadOrCreate();
            var next = file.Keys.Max(k => k.Version) + 1;
            var updated = file with { Keys = [.. file.Keys, new KeyVersion(next, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), DateTimeOffset.UtcNow)] };
            PrivateFile.Write(_path, stream => JsonSerializer.Serialize(stream, updated, JsonSerializerOptions.Web));
            return Task.FromResult(IdOf(updated, next));
        }
    }

    KeyFile ReadOrCreate()
    {
        if (!File.Exists(_path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            // Placed without overwriting: when two processes start at once, one file wins and both use it.
            var first = new KeyFile(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)), [new KeyVersion(1, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), DateTimeOffset.UtcNow)]);
            PrivateFile.Write(_path, stream => JsonSerializer.Serialize(stream, first, JsonSerializerOptions.Web), overwrite: false);
        }

        try
        {
            var file = JsonSerializer.Deserialize<KeyFile>(File.ReadAllText(_path), JsonSerializerOptions.Web);
            if (file?.Keys is not { Count: > 0 } keys || string.IsNullOrEmpty(file.Id) || keys.Any(k => Convert.FromBase64String(k.Key).Length != 32))
            {
                throw new JsonException("no 256-bit keys in it");
            }

            return file;
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new KeyUnavailableException($"{Description} is damaged ({ex.Message}); restore it from a backup: without it no secret can be read");
        }
    }

    static string IdOf(KeyFile file, int version) => $"{Prefix}{file.Id}.{version.ToString(CultureInfo.InvariantCulture)}";

    sealed record KeyFile(string Id, IReadOnlyList<KeyVersion> Keys);

    sealed record KeyVersion(int Version, string Key, DateTimeOffset CreatedAt);
}
