using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Automator67.Contracts.Relay;

/// <summary>
/// Compact JWS (RFC 7515) with ES256 only, as commands and events travel: <c>header.payload.signature</c>, base64url.
/// Deliberately small and strict: the algorithm is fixed (no <c>alg</c> negotiation, no <c>none</c>, no HMAC), the
/// key is chosen by <c>kid</c> from keys the verifier already trusts (never from the message), and the type must
/// match, so a command can never be passed off as an event or an access token.
/// </summary>
public static class Jws
{
    /// <summary>Queue messages are at most 64 KiB; a signed message must fit with room to spare.</summary>
    public const int MaxLength = 60 * 1024;

    /// <summary>The problem <see cref="Verify"/> names when no key has the message's kid (a relay may not have heard of a rotation yet).</summary>
    public const string UnknownKey = "the message is signed with an unknown key";

    public static string Sign(ReadOnlySpan<byte> payload, ECDsa key, string kid, string type)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new JwsHeader("ES256", kid, type), RelayJsonContext.Default.JwsHeader);
        var signingInput = $"{Base64Url.EncodeToString(header)}.{Base64Url.EncodeToString(payload)}";
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return $"{signingInput}.{Base64Url.EncodeToString(signature)}";
    }

    /// <summary>
    /// The <c>kid</c> a compact JWS names, unverified: only to choose which trusted key to verify it with. Null when
    /// the message is not a compact JWS.
    /// </summary>
    public static string? PeekKid(string compact)
    {
        var dot = compact.IndexOf('.', StringComparison.Ordinal);
        if (compact.Length > MaxLength || dot < 1)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(Base64Url.DecodeFromChars(compact.AsSpan(0, dot)), RelayJsonContext.Default.JwsHeader)?.Kid;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Verifies a compact JWS: returns its payload and key id, or null with the reason it was refused. The key comes
    /// from <paramref name="keys"/> by the header's <c>kid</c>; an unknown kid is a refusal.
    /// </summary>
    public static (byte[]? Payload, string? Kid, string? Problem) Verify(string compact, string expectedType, Func<string, ECDsa?> keys)
    {
        if (compact.Length > MaxLength)
        {
            return (null, null, "the message is too large");
        }

        var parts = compact.Split('.');
        if (parts.Length != 3)
        {
            return (null, null, "the message is not a compact JWS");
        }

        JwsHeader? header;
        byte[] payload, signature;
        try
        {
            header = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(parts[0]), RelayJsonContext.Default.JwsHeader);
            payload = Base64Url.DecodeFromChars(parts[1]);
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return (null, null, "the message is not a compact JWS");
        }

        if (header is null || header.Alg != "ES256")
        {
            return (null, null, "the signature algorithm is not ES256");
        }

        if (header.Typ != expectedType)
        {
            return (null, header.Kid, $"the message is not of type {expectedType}");
        }

        if (string.IsNullOrEmpty(header.Kid) || keys(header.Kid) is not { } key)
        {
            return (null, header.Kid, UnknownKey);
        }

        var signingInput = Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}");
        return key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            ? (payload, header.Kid, null)
            : (null, header.Kid, "the signature does not verify");
    }
}

public sealed record JwsHeader(string Alg, string? Kid, string? Typ);
