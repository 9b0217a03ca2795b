using System.Security.Cryptography;
using System.Text;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>
/// Single-use backup codes for when the authenticator is lost. Each is 24 characters of Crockford's base32 (120 random
/// bits), shown as six groups of four. That length is deliberate: at 112 bits or more ASVS 5.0 (6.5.2) allows a plain
/// SHA-256 hash, so a code is found by one indexed lookup, where a short code would need a slow password hash per
/// stored code on every attempt.
/// </summary>
public static class BackupCodes
{
    public const int Count = 10;
    public const int Length = 24;
    const int GroupSize = 4;

    // Crockford's alphabet, lower case: no i, l, o or u, so nothing reads as another character.
    const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    /// <summary>New codes in display form (<c>xxxx-xxxx-…</c>) with the hashes to store.</summary>
    public static (string[] Codes, byte[][] Hashes) Generate()
    {
        var codes = new string[Count];
        var hashes = new byte[Count][];
        for (var i = 0; i < Count; i++)
        {
            var raw = RandomNumberGenerator.GetString(Alphabet, Length);
            codes[i] = string.Join('-', raw.Chunk(GroupSize).Select(group => new string(group)));
            hashes[i] = Hash(raw);
        }

        return (codes, hashes);
    }

    /// <summary>
    /// The canonical form of what a person typed: dashes and spaces dropped, lower case, and the letters Crockford maps
    /// (i, l → 1; o → 0). Null when it cannot be a backup code.
    /// </summary>
    public static string? Normalize(string? typed)
    {
        if (typed is null || typed.Length > 64)
        {
            return null;
        }

        var code = new StringBuilder(Length);
        foreach (var c in typed)
        {
            if (c is '-' or ' ')
            {
                continue;
            }

            var lower = char.ToLowerInvariant(c);
            var mapped = lower switch { 'i' or 'l' => '1', 'o' => '0', _ => lower };
            if (!Alphabet.Contains(mapped, StringComparison.Ordinal))
            {
                return null;
            }

            code.Append(mapped);
        }

        return code.Length == Length ? code.ToString() : null;
    }

    /// <summary>The stored form of a normalized code.</summary>
    public static byte[] Hash(string normalized) => SHA256.HashData(Encoding.ASCII.GetBytes(normalized));
}
