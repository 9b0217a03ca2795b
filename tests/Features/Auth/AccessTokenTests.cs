using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automator67.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Automator67.Tests.Features.Auth;

/// <summary>Forged and ill-formed bearer tokens sent to the real control plane: every one is a 401.</summary>
public sealed class AccessTokenTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    // The control plane's own active key, read from its key file: a token signed with it differs only in what we change.
    ECDsaSecurityKey RealKey()
    {
        using var file = JsonDocument.Parse(File.ReadAllText(cp.SigningKeyFile));
        var entry = file.RootElement.GetProperty("keys").EnumerateArray().Last();
        var ecdsa = ECDsa.Create();
        ecdsa.ImportPkcs8PrivateKey(Convert.FromBase64String(entry.GetProperty("privateKey").GetString()!), out _);
        return new ECDsaSecurityKey(ecdsa) { KeyId = entry.GetProperty("kid").GetString() };
    }

    static string Sign(SecurityKey key, string algorithm, Guid account, Guid session, Action<SecurityTokenDescriptor>? change = null, IDictionary<string, object>? header = null)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = "automator67",
            Audience = "automator67-api",
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(10),
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(key, algorithm),
            Claims = new Dictionary<string, object> { ["sub"] = account.ToString(), ["sid"] = session.ToString(), ["role"] = "admin" },
            AdditionalHeaderClaims = header,
        };
        change?.Invoke(descriptor);
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    async Task<HttpResponseMessage> MeAsync(string token) => await cp.SendAsync(HttpMethod.Get, "/api/auth/me", token);

    [Fact]
    public async Task RealKeyAndRealClaims_AreAccepted_SoTheRefusalsBelowAreAboutTheirOneChange()
    {
        var user = await cp.SignUpAsync();

        using var response = await MeAsync(Sign(RealKey(), SecurityAlgorithms.EcdsaSha256, user.AccountId, user.SessionId));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string> Changes => ["expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "wrong-type", "no-expiry"];

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task TokensSignedWithTheRealKey_Return401_WhenOneClaimIsWrong(string change)
    {
        var user = await cp.SignUpAsync();
        Action<SecurityTokenDescriptor> edit = change switch
        {
            "expired" => d => { d.IssuedAt = DateTime.UtcNow.AddMinutes(-20); d.NotBefore = d.IssuedAt; d.Expires = DateTime.UtcNow.AddSeconds(-31); },
            "not-yet-valid" => d => { d.NotBefore = DateTime.UtcNow.AddMinutes(5); d.Expires = DateTime.UtcNow.AddMinutes(20); },
            "wrong-audience" => d => d.Audience = "someone-else",
            "wrong-issuer" => d => d.Issuer = "https://evil.example",
            "wrong-type" => d => d.TokenType = "JWT",
            "no-expiry" => d => d.Expires = null,
            _ => throw new ArgumentOutOfRangeException(nameof(change)),
        };

        using var response = await MeAsync(Sign(RealKey(), SecurityAlgorithms.EcdsaSha256, user.AccountId, user.SessionId, edit));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenSignedWithAnotherKey_Returns401_EvenWithTheRealKeyId()
    {
        var user = await cp.SignUpAsync();
        var other = new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = RealKey().KeyId };

        using var response = await MeAsync(Sign(other, SecurityAlgorithms.EcdsaSha256, user.AccountId, user.SessionId));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AlgNone_Returns401()
    {
        var user = await cp.SignUpAsync();
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var token = $"{B64("""{"alg":"none","typ":"at+jwt"}""")}.{B64($$"""{"iss":"automator67","aud":"automator67-api","sub":"{{user.AccountId}}","sid":"{{user.SessionId}}","role":"admin","nbf":{{now}},"exp":{{now + 600}}}""")}.";

        using var response = await MeAsync(token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task HmacSignedWithThePublicKey_Returns401()
    {
        // The classic algorithm-confusion attack: HS256 keyed with the bytes of the server's public key.
        var user = await cp.SignUpAsync();
        var jwks = await cp.Http.GetStringAsync("/.well-known/jwks.json", TestEnvironment.TimeCap());
        var hmac = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwks.PadRight(64))) { KeyId = RealKey().KeyId };

        using var response = await MeAsync(Sign(hmac, SecurityAlgorithms.HmacSha256, user.AccountId, user.SessionId));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task EmbeddedJwkAndJkuHeaders_AreIgnored()
    {
        var user = await cp.SignUpAsync();
        var attacker = new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "attacker" };
        var jwk = JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(attacker.ECDsa.ExportParameters(false))));
        var header = new Dictionary<string, object>
        {
            ["jwk"] = new Dictionary<string, object> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = jwk.X, ["y"] = jwk.Y },
            ["jku"] = "http://127.0.0.1:9/jwks.json",
            ["x5u"] = "http://127.0.0.1:9/cert.pem",
        };

        using var response = await MeAsync(Sign(attacker, SecurityAlgorithms.EcdsaSha256, user.AccountId, user.SessionId, header: header));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task TamperedPayload_Returns401()
    {
        var user = await cp.SignUpAsync();
        var parts = user.AccessToken.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("\"user\"", "\"admin\"", StringComparison.Ordinal);

        using var response = await MeAsync($"{parts[0]}.{Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(payload))}.{parts[2]}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer")]
    [InlineData("Bearer not.a.jwt")]
    [InlineData("Bearer a67_rt_refresh-tokens-are-not-access-tokens")]
    public async Task MalformedAuthorizationHeaders_Return401(string header)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/auth/me");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        using var response = await cp.Http.SendAsync(request, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Jwks_PublishesThePublicKey_ThatVerifiesIssuedTokens()
    {
        var user = await cp.SignUpAsync();

        var jwks = await cp.Http.GetFromJsonAsync<JsonElement>("/.well-known/jwks.json", TestEnvironment.TimeCap());

        var kid = new JsonWebToken(user.AccessToken).Kid;
        var key = jwks.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("kid").GetString() == kid);
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("ES256", key.GetProperty("alg").GetString());
        Assert.False(key.TryGetProperty("d", out _), "the private part must never be published");
        var verifying = new JsonWebKey(key.GetRawText());
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(user.AccessToken, new TokenValidationParameters
        {
            IssuerSigningKey = verifying,
            ValidIssuer = "automator67",
            ValidAudience = "automator67-api",
            ValidTypes = ["at+jwt"],
        });
        Assert.True(result.IsValid, result.Exception?.Message);
    }
}
