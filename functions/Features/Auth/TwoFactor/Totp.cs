using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>What checking a TOTP code found.</summary>
public enum TotpMatch
{
    NoMatch,

    /// <summary>The code is right but its time step was already used: someone may have seen it (RFC 6238 §5.2).</summary>
    Replayed,
    Accepted,
}

/// <summary>
/// TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits, 30-second steps, the parameters every authenticator app
/// assumes when an otpauth URI names none. A code is accepted one step either side of the server's clock, and only
/// for a step newer than the last one accepted.
/// </summary>
public static class Totp
{
    public const int Digits = 6;
    public const int PeriodSeconds = 30;
    public const string Algorithm = "SHA1";

    /// <summary>Secret size: 160 bits, the HMAC-SHA1 output size that RFC 4226 §4 recommends.</summary>
    public const int SecretBytes = 20;

    /// <summary>Steps accepted either side of the current one: ±1 step tolerates a phone clock ~30 s off.</summary>
    public const int AllowedDrift = 1;

    public static byte[] NewSecret() => RandomNumberGenerator.GetBytes(SecretBytes);

    public static long StepAt(DateTimeOffset time) => time.ToUnixTimeSeconds() / PeriodSeconds;

    /// <summary>The 6-digit code of one time step (RFC 4226 §5.3 dynamic truncation).</summary>
    public static string Code(ReadOnlySpan<byte> secret, long step)
    {
        Span<byte> counter = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(counter, step);
        Span<byte> mac = stackalloc byte[HMACSHA1.HashSizeInBytes];
#pragma warning disable CA5350 // SHA-1 is what RFC 6238 and every authenticator app use; HMAC-SHA1 is not affected by SHA-1 collisions.
        HMACSHA1.HashData(secret, counter, mac);
#pragma warning restore CA5350
        var offset = mac[^1] & 0x0f;
        var binary = BinaryPrimitives.ReadInt32BigEndian(mac[offset..]) & 0x7fffffff;
        return (binary % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Checks a 6-digit code against the steps around <paramref name="time"/>'s now. Every candidate step is computed
    /// and compared in constant time, so the answer's timing says nothing about how close a guess was.
    /// </summary>
    public static (TotpMatch Match, long Step) Verify(ReadOnlySpan<byte> secret, string code, TimeProvider time, long? lastUsedStep)
    {
        var current = StepAt(time.GetUtcNow());
        var presented = Encoding.ASCII.GetBytes(code);
        long? newest = null;
        var replayed = false;
        for (var step = current - AllowedDrift; step <= current + AllowedDrift; step++)
        {
            var expected = Encoding.ASCII.GetBytes(Code(secret, step));
            if (CryptographicOperations.FixedTimeEquals(expected, presented))
            {
                if (lastUsedStep is { } last && step <= last)
                {
                    replayed = true;
                }
                else
                {
                    newest = step;
                }
            }
        }

        return newest is { } accepted ? (TotpMatch.Accepted, accepted) : (replayed ? TotpMatch.Replayed : TotpMatch.NoMatch, 0);
    }

    /// <summary>Strips the spaces apps show inside a code ("123 456"); null unless exactly 6 ASCII digits remain.</summary>
    public static string? Normalize(string? code)
    {
        if (code is null || code.Length > 32)
        {
            return null;
        }

        var digits = code.Replace(" ", "", StringComparison.Ordinal);
        return digits.Length == Digits && digits.All(char.IsAsciiDigit) ? digits : null;
    }

    /// <summary>
    /// The otpauth URI authenticator apps read (Google Authenticator's "Key Uri Format"): the label is
    /// <c>issuer:account</c>, the secret base32 without padding.
    /// </summary>
    public static string OtpauthUri(string issuer, string accountName, ReadOnlySpan<byte> secret)
    {
        var label = Uri.EscapeDataString(issuer) + ":" + Uri.EscapeDataString(accountName);
        return $"otpauth://totp/{label}?secret={Base32(secret)}&issuer={Uri.EscapeDataString(issuer)}&algorithm={Algorithm}&digits={Digits}&period={PeriodSeconds}";
    }

    /// <summary>RFC 4648 base32, upper case, no padding: the form authenticator apps accept when typed in.</summary>
    public static string Base32(ReadOnlySpan<byte> data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var text = new StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = ((buffer << 8) | b) & 0xffff; // fewer than 13 bits are ever pending
            bits += 8;
            while (bits >= 5)
            {
                text.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            text.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return text.ToString();
    }
}
