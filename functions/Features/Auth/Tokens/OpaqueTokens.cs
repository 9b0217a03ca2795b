using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Automator67.Functions.Features.Auth.Tokens;

/// <summary>
/// Bearer secrets of our own (refresh tokens, personal API tokens, join tokens, two-factor challenges): a prefix that
/// names the kind, so a leaked one is recognisable, and 256 random bits. Stored only as SHA-256: that much randomness
/// needs no slow hash, and finding a row by its hash compares nothing byte by byte.
/// </summary>
public static class OpaqueTokens
{
    public static (string Token, byte[] Hash) Create(string prefix)
    {
        var token = prefix + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (token, Hash(token));
    }

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
