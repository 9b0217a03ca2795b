using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// A stand-in for Azure Key Vault's secrets REST endpoints, over HTTPS on 127.0.0.1 (Azure cannot be reached from
/// here), strict where the SDK's flow lives: a request without the bearer token it issued answers 401 with a
/// <c>WWW-Authenticate: Bearer authorization=…, resource=…</c> challenge, as Key Vault does, and only then does the
/// real <see cref="SecretClient"/> ask its credential for a token for that resource. PUT makes a new version; GET reads
/// the newest or a given version. Its certificate is self-signed for <see cref="Host"/>; <see cref="CreateClient"/>
/// trusts exactly that certificate. <see cref="StopAsync"/> and <see cref="StartAsync"/> make the vault unreachable
/// and back on the same port.
/// </summary>
public sealed class KeyVaultStandIn : IAsyncDisposable
{
    /// <summary>A name under <c>localhost</c>: the SDK checks that the vault's host is within the challenge's resource domain.</summary>
    public const string Host = "a67.vault.localhost";
    public const string Resource = "https://localhost";
    public const string Tenant = "a67-test-tenant";

    readonly ConcurrentDictionary<string, List<(string Version, string Value, string? ContentType)>> _secrets = new(StringComparer.OrdinalIgnoreCase);
    readonly string _token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    WebApplication? _app;
    int _challenges;
    int _authorized;

    public KeyVaultStandIn()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={Host}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(Host);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12, so the private key is one SslStream can use on every platform.
        Certificate = X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }

    public X509Certificate2 Certificate { get; }

    public int Port { get; private set; }

    public Uri VaultUri => new($"https://{Host}:{Port}/");

    /// <summary>401 challenges sent, and requests that carried the issued token.</summary>
    public int Challenges => Volatile.Read(ref _challenges);

    public int Authorized => Volatile.Read(ref _authorized);

    /// <summary>The versions of a vault secret, oldest first.</summary>
    public IReadOnlyList<string> Versions(string name) => _secrets.TryGetValue(name, out var versions) ? [.. versions.Select(v => v.Version)] : [];

    /// <summary>A credential that issues the token this vault takes (as Entra ID would), recording what it was asked for.</summary>
    public StandInCredential Credential => new(_token);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var port = Port;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.UseHttps(Certificate)));
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            if (context.Request.Headers.Authorization.ToString() != $"Bearer {_token}")
            {
                Interlocked.Increment(ref _challenges);
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = $"Bearer authorization=\"https://login.microsoftonline.com/{Tenant}\", resource=\"{Resource}\"";
                return;
            }

            Interlocked.Increment(ref _authorized);
            await next(context);
        });
        app.MapPut("/secrets/{name}", async (string name, HttpContext context) =>
        {
            var body = await JsonNode.ParseAsync(context.Request.Body);
            var version = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var entry = (version, body!["value"]!.GetValue<string>(), body["contentType"]?.GetValue<string>());
            _secrets.AddOrUpdate(name, _ => [entry], (_, list) => { lock (list) { list.Add(entry); } return list; });
            return Results.Json(Bundle(context, name, entry));
        });
        app.MapGet("/secrets/{name}/{version?}", (string name, string? version, HttpContext context) =>
        {
            if (_secrets.TryGetValue(name, out var list))
            {
                lock (list)
                {
                    var found = version is null or "" ? list[^1] : list.FirstOrDefault(v => v.Version == version);
                    if (found.Version is not null)
                    {
                        return Results.Json(Bundle(context, name, found));
                    }
                }
            }

            return Results.Json(new { error = new { code = "SecretNotFound", message = $"A secret with (name/id) {name}/{version} was not found in this key vault." } },
                statusCode: StatusCodes.Status404NotFound);
        });
        await app.StartAsync();
        _app = app;
        Port = new Uri(app.Urls.First()).Port;
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    /// <summary>The real <see cref="SecretClient"/>, trusting exactly this vault's certificate and connecting its host name to 127.0.0.1.</summary>
    public SecretClient CreateClient(TokenCredential credential, TimeSpan? timeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == Certificate.GetCertHashString(),
            },
        };
        var options = new SecretClientOptions { Transport = new HttpClientTransport(handler), Retry = { MaxRetries = 0, NetworkTimeout = timeout ?? TimeSpan.FromSeconds(5) } };
        return new SecretClient(VaultUri, credential, options);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Certificate.Dispose();
    }

    static Dictionary<string, object?> Bundle(HttpContext context, string name, (string Version, string Value, string? ContentType) entry)
    {
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new Dictionary<string, object?>
        {
            ["value"] = entry.Value,
            ["contentType"] = entry.ContentType,
            ["id"] = $"https://{context.Request.Host}/secrets/{name}/{entry.Version}",
            ["attributes"] = new Dictionary<string, object?> { ["enabled"] = true, ["created"] = created, ["updated"] = created, ["recoveryLevel"] = "Recoverable+Purgeable" },
        };
    }
}

/// <summary>Issues the stand-in vault's token and records the token requests the SDK makes after a challenge.</summary>
public sealed class StandInCredential(string token) : TokenCredential
{
    readonly ConcurrentQueue<TokenRequestContext> _requests = new();

    public IReadOnlyCollection<TokenRequestContext> Requests => _requests;

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        _requests.Enqueue(requestContext);
        return new AccessToken(token, DateTimeOffset.UtcNow.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}
