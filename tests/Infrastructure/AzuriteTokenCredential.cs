using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Text.Json;
using Azure.Core;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// Stands in for the managed identity: issues what Azurite's <c>--oauth basic</c> checks, a JWT whose audience is
/// <c>https://storage.azure.com</c>, whose issuer starts with an Entra prefix (<c>https://sts.windows.net/</c>) and
/// that has <c>nbf</c>, <c>iat</c> and <c>exp</c> around now. Azurite does not check the signature, so there is none.
/// </summary>
public sealed class AzuriteTokenCredential(TimeSpan? lifetime = null) : TokenCredential
{
    public const string TenantId = "6f1c0de3-0000-4000-8000-00000000a067";
    public const string ObjectId = "0b1ec7de-0000-4000-8000-00000000a067";

    /// <summary>The scopes each token was asked for.</summary>
    public ConcurrentQueue<string> Scopes { get; } = new();

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        foreach (var scope in requestContext.Scopes)
        {
            Scopes.Enqueue(scope);
        }

        var now = DateTimeOffset.UtcNow;
        var expires = now + (lifetime ?? TimeSpan.FromHours(1));
        var claims = new Dictionary<string, object>
        {
            ["aud"] = "https://storage.azure.com",
            ["iss"] = $"https://sts.windows.net/{TenantId}/",
            ["iat"] = now.AddMinutes(-10).ToUnixTimeSeconds(),
            ["nbf"] = now.AddMinutes(-10).ToUnixTimeSeconds(),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["oid"] = ObjectId,
            ["tid"] = TenantId,
        };
        var token = $"{Encode(new Dictionary<string, object> { ["alg"] = "none", ["typ"] = "JWT" })}.{Encode(claims)}.";
        return new AccessToken(token, expires);
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));

    static string Encode(Dictionary<string, object> part) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(part));
}
