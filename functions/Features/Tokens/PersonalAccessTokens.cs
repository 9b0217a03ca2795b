using System.Buffers;
using System.Security.Claims;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Automator67.Functions.Features.Tokens;

/// <summary>
/// Personal access tokens as bearer credentials. A token is <c>a67_pat_</c> + base64url(32 random bytes): the prefix
/// makes a leaked one recognisable to secret scanners and lets <see cref="BearerAuthenticationHandler"/> tell it from
/// an access token without parsing. What a token grants is looked up by its hash and cached for
/// <see cref="BearerAuthenticationHandler.ActiveCheckCacheTime"/>, like a session's check, so a revocation or a
/// disabled account takes effect within that time on every instance (at once on the instance that revoked it).
/// </summary>
public sealed class PersonalAccessTokens(PersonalAccessTokenStore store, IMemoryCache cache, TimeProvider time)
{
    public const string Prefix = "a67_pat_";

    /// <summary>The claim that marks a principal as a personal access token; its value is the token's id.</summary>
    public const string TokenIdClaim = "pat";

    public const string AuthenticationType = "PersonalAccessToken";

    /// <summary>How many trailing characters are kept as a hint; they carry about 22 of the secret's 256 bits.</summary>
    public const int HintLength = 4;

    /// <summary>A use is recorded at most this often per token: a write per request would cost more than the request.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    const int SecretLength = 43; // 32 bytes in unpadded base64url
    static readonly SearchValues<char> Base64UrlAlphabet = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static (string Secret, byte[] Hash, string Hint) Generate()
    {
        var (secret, hash) = OpaqueTokens.Create(Prefix);
        return (secret, hash, secret[^HintLength..]);
    }

    /// <summary>The SHA-256 of a well-formed token; null for anything else, which is refused without a database query.</summary>
    public static byte[]? Hash(string token) =>
        token.Length == Prefix.Length + SecretLength && token.StartsWith(Prefix, StringComparison.Ordinal) && !token.AsSpan(Prefix.Length).ContainsAnyExcept(Base64UrlAlphabet)
            ? OpaqueTokens.Hash(token)
            : null;

    /// <summary>The caller a token stands for, or null with the reason it was refused (for the 401 problem).</summary>
    public async Task<(ClaimsPrincipal? Principal, string? Problem)> AuthenticateAsync(string token, CancellationToken ct)
    {
        if (Hash(token) is not { } hash)
        {
            return (null, "the token is malformed or invalid");
        }

        // Unknown tokens are not cached: a flood of made-up ones must not fill memory.
        var key = new GrantKey(Convert.ToHexString(hash));
        if (!cache.TryGetValue(key, out TokenGrant? grant) || grant is null)
        {
            grant = await store.FindGrantAsync(hash, ct);
            if (grant is null)
            {
                return (null, "the personal access token is unknown");
            }

            cache.Set(key, grant, BearerAuthenticationHandler.ActiveCheckCacheTime);
        }

        var now = time.GetUtcNow();
        var refusal = grant.RevokedAt is not null ? "the personal access token has been revoked"
            : grant.ExpiresAt <= now ? "the personal access token has expired"
            : grant.AccountDisabled ? "the account is disabled"
            : null;
        if (refusal is not null)
        {
            return (null, refusal);
        }

        await NoteUseAsync(grant, now, ct);
        return (Principal(grant), null);
    }

    /// <summary>Drops this instance's cached grant of a token, so its revocation applies here at once.</summary>
    public void Forget(byte[] hash) => cache.Remove(new GrantKey(Convert.ToHexString(hash)));

    async Task NoteUseAsync(TokenGrant grant, DateTimeOffset now, CancellationToken ct)
    {
        // The stored time covers other instances; the local marker covers this one while the grant stays cached.
        var marker = new UseKey(grant.Id);
        if (grant.LastUsedAt > now - LastUsedResolution || cache.TryGetValue(marker, out _))
        {
            return;
        }

        cache.Set(marker, true, LastUsedResolution);
        await store.TouchAsync(grant.Id, now, LastUsedResolution, ct);
    }

    static ClaimsPrincipal Principal(TokenGrant grant)
    {
        var identity = new ClaimsIdentity(AuthenticationType, JwtRegisteredClaimNames.Sub, AccessTokens.RoleClaim);
        identity.AddClaim(new Claim(JwtRegisteredClaimNames.Sub, grant.AccountId.ToString()));
        identity.AddClaim(new Claim(AccessTokens.RoleClaim, grant.Role));
        identity.AddClaim(new Claim(TokenIdClaim, grant.Id.ToString()));
        identity.AddClaims(grant.Scopes.Select(scope => new Claim(AccessTokens.ScopeClaim, scope)));
        return new ClaimsPrincipal(identity);
    }

    sealed record GrantKey(string Hash);

    sealed record UseKey(Guid TokenId);
}
