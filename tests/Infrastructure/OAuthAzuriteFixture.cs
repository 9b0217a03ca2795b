using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Automator67.Functions.Queues;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

namespace Automator67.Tests.Infrastructure;

[CollectionDefinition(Name)]
public sealed class OAuthAzuriteGroup : ICollectionFixture<OAuthAzuriteFixture>
{
    public const string Name = "Azurite with OAuth";
}

/// <summary>
/// A second Azurite queue service, this run's own: HTTPS with a self-signed certificate made here, and
/// <c>--oauth basic</c>, so it takes bearer tokens as Azure Storage does from an identity. Started from the repository's
/// pinned install (<c>node_modules/.bin/azurite-queue</c>, the same package scripts/stack.sh runs) on a free loopback
/// port, in memory, and stopped by its pid. The stack's Azurite is not touched.
/// </summary>
public sealed class OAuthAzuriteFixture : IAsyncLifetime
{
    readonly string _directory = Directory.CreateTempSubdirectory("a67-oauth-azurite-").FullName;
    readonly StringBuilder _output = new();
    readonly X509Certificate2 _certificate = CreateCertificate();
    Process? _process;

    /// <summary>The queue endpoint, as <c>AzureWebJobsStorage__queueServiceUri</c> would name it.</summary>
    public Uri ServiceUri { get; private set; } = null!;

    public string Prefix { get; } = $"o{TestEnvironment.RunId}";

    /// <summary>
    /// Client options as the product makes them, plus a test-only transport that trusts this fixture's certificate
    /// (and no other); <paramref name="stub"/> may answer some requests in place of Azurite.
    /// </summary>
    public QueueClientOptions ClientOptions(Func<HttpRequestMessage, Task<HttpResponseMessage?>>? stub = null)
    {
        var options = QueueRegistration.ClientOptions();
        options.Transport = new HttpClientTransport(new StubbingHandler(stub, TrustingHandler()));
        return options;
    }

    /// <summary>The product's client for <c>AzureWebJobsStorage__queueServiceUri</c> = this Azurite, with <paramref name="credential"/>.</summary>
    public QueueServiceClient CreateClient(TokenCredential credential, Func<HttpRequestMessage, Task<HttpResponseMessage?>>? stub = null)
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage:queueServiceUri"] = ServiceUri.ToString(),
        }).Build();
        return QueueConnection.Read(settings).CreateClient(ClientOptions(stub), credential);
    }

    public async ValueTask InitializeAsync()
    {
        var azurite = Path.Combine(TestEnvironment.RepositoryRoot, "node_modules", ".bin", "azurite-queue");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"{azurite} is missing: run npm ci in the repository root (./a67 up does).");
        }

        var certPath = Path.Combine(_directory, "cert.pem");
        var keyPath = Path.Combine(_directory, "key.pem");
        await File.WriteAllTextAsync(certPath, _certificate.ExportCertificatePem());
        using (var key = _certificate.GetRSAPrivateKey()!)
        {
            await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());
        }

        var port = ProductProcess.FreePort();
        ServiceUri = new Uri($"https://127.0.0.1:{port}/devstoreaccount1");
        var start = new ProcessStartInfo(azurite)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        // --disableTelemetry: with telemetry on, Azurite ignores SIGTERM (scripts/stack.sh); --skipApiVersionCheck: the SDK speaks a newer version.
        foreach (var argument in new[]
        {
            "--oauth", "basic", "--cert", certPath, "--key", keyPath, "--queueHost", "127.0.0.1", "--queuePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, line) => Append(line.Data);
        _process.ErrorDataReceived += (_, line) => Append(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitUntilAnsweringAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    async Task WaitUntilAnsweringAsync()
    {
        using var client = new HttpClient(TrustingHandler()) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with {_process.ExitCode}: {Output()}");
            }

            try
            {
                // Any answer (403 without a token) means it listens with our certificate.
                using var response = await client.GetAsync(new Uri(ServiceUri, "?comp=list"));
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                await Task.Delay(200);
            }
        }

        throw new TimeoutException($"Azurite did not answer on {ServiceUri} within 30 s: {Output()}");
    }

    // Trusts exactly the certificate this fixture made: never a blanket "accept any certificate".
    SocketsHttpHandler TrustingHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == _certificate.Thumbprint,
        },
    };

    static X509Certificate2 CreateCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
    }

    void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    sealed class StubbingHandler(Func<HttpRequestMessage, Task<HttpResponseMessage?>>? stub, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            (stub is null ? null : await stub(request)) ?? await base.SendAsync(request, cancellationToken);
    }
}
