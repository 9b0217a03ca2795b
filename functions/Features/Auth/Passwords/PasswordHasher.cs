using System.Text;
using Geralt;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Auth.Passwords;

/// <summary>
/// Argon2id through libsodium (Geralt). The PHC string records its parameters (<c>$argon2id$v=19$m=19456,t=2,p=1$…</c>),
/// so raising them in the settings makes <see cref="NeedsRehash"/> true and the next login stores a stronger hash.
/// </summary>
public sealed class PasswordHasher(IOptions<AuthOptions> options)
{
    // Verified when the email is unknown, so an unknown email costs the same time as a wrong password.
    readonly Lazy<string> _decoy = new(() => HashCore("decoy password that never matches", options.Value));

    public string Hash(string password) => HashCore(password, options.Value);

    public bool Verify(string hash, string password) => Argon2id.VerifyHash(hash, Encoding.UTF8.GetBytes(password));

    /// <summary>Spends the time of one verification and fails.</summary>
    public bool VerifyDecoy(string password)
    {
        _ = Verify(_decoy.Value, password);
        return false;
    }

    public bool NeedsRehash(string hash) =>
        Argon2id.NeedsRehash(hash, options.Value.PasswordHashIterations, options.Value.PasswordHashMemoryMiB * 1024 * 1024);

    static string HashCore(string password, AuthOptions settings)
    {
        var hash = new char[Argon2id.HashSize];
        Argon2id.ComputeHash(hash, Encoding.UTF8.GetBytes(password), settings.PasswordHashIterations, settings.PasswordHashMemoryMiB * 1024 * 1024);
        return new string(hash).TrimEnd('\0');
    }
}
