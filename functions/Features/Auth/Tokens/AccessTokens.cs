using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Automator67.Functions.Features.Auth.Tokens;

/// <summary>
/// ES256 access tokens (RFC 9068 <c>at+jwt</c>): 15 minutes by default, validated against an algorithm allowlist,
/// issuer, audience, type, lifetime (30 s skew, on our <see cref="TimeProvider"/>) and the key ring's key ids.
/// Keys named in token headers (<c>jku</c>, <c>jwk</c>, <c>x5u</c>) are never used.
/// </summary>
public sealed class AccessTokens(SigningKeyRing keys, IOptions<AuthOptions> options, TimeProvider time)
{
    public const string TokenType = "at+jwt";
    public const string SessionClaim = "sid";
    public const string RoleClaim = "role";
    public const string ScopeClaim = "scope";
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };

    public IssuedAccessToken Issue(Guid accountId, Guid sessionId, string role)
    {
        var now = time.GetUtcNow();
        var expires = now + options.Value.AccessTokenLifetime;
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = new SigningCredentials(keys.Active, SecurityAlgorithms.EcdsaSha256),
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = accountId.ToString(),
                [JwtRegisteredClaimNames.Jti] = Guid.CreateVersion7().ToString(),
                [SessionClaim] = sessionId.ToString(),
                [RoleClaim] = role,
            },
        });
        return new IssuedAccessToken(token, expires, options.Value.AccessTokenLifetime);
    }

    /// <summary>Validates a token; returns its identity, or null with the reason it was refused.</summary>
    public async Task<(ClaimsIdentity? Identity, string? Problem)> ValidateAsync(string token)
    {
        var result = await _handler.ValidateTokenAsync(token, Parameters());
        return result.IsValid ? (result.ClaimsIdentity, null) : (null, Describe(result.Exception));
    }

    TokenValidationParameters Parameters() => new()
    {
        ValidIssuer = options.Value.Issuer,
        ValidAudience = options.Value.Audience,
        IssuerSigningKeys = keys.ValidationKeys,
        TryAllIssuerSigningKeys = false,
        ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        ValidTypes = [TokenType],
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
        LifetimeValidator = ValidateLifetime,
        NameClaimType = JwtRegisteredClaimNames.Sub,
        RoleClaimType = RoleClaim,
        AuthenticationType = "Bearer",
    };

    bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (expires is null || expires.Value + ClockSkew <= now)
        {
            throw new SecurityTokenExpiredException("the token has expired") { Expires = expires ?? DateTime.MinValue };
        }

        if (notBefore is not null && notBefore.Value - ClockSkew > now)
        {
            throw new SecurityTokenNotYetValidException("the token is not valid yet") { NotBefore = notBefore.Value };
        }

        return true;
    }

    static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => "the token has expired",
        SecurityTokenNotYetValidException => "the token is not valid yet",
        SecurityTokenInvalidAudienceException => "the token is for another audience",
        SecurityTokenInvalidIssuerException => "the token is from another issuer",
        SecurityTokenInvalidTypeException => "the token is not an access token",
        SecurityTokenInvalidAlgorithmException => "the token's algorithm is not allowed",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "the token's signature does not verify",
        _ => "the token is malformed or invalid",
    };
}

public sealed record IssuedAccessToken(string Token, DateTimeOffset ExpiresAt, TimeSpan Lifetime);
