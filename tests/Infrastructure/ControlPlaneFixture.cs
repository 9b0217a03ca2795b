using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// One real control-plane process per test class, on its own database, queue prefix, key file and port. Tests talk
/// to it over HTTP exactly as a user would.
/// </summary>
public sealed class ControlPlaneFixture : IAsyncLifetime
{
    readonly DatabaseFixture _database = new();
    readonly QueueFixture _queues = new();
    readonly string _keyDirectory = Directory.CreateTempSubdirectory("a67-keys-").FullName;
    ProductProcess? _process;
    int _port;
    string _stoppedOutput = "";

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(15) };

    public DatabaseFixture Database => _database;

    public QueueFixture Queues => _queues;

    public string SigningKeyFile => Path.Combine(_keyDirectory, "signing-keys.json");

    /// <summary>The keys the control plane signs relay commands with; tests that play the control plane sign with them too.</summary>
    public string CommandSigningKeyFile => Path.Combine(_keyDirectory, "command-signing-keys.json");

    /// <summary>The local key file of the secrets' key-encryption key (unless a test sets Secrets__KeyVaultUri).</summary>
    public string SecretsKeyFile => Path.Combine(_keyDirectory, "secrets-kek.json");

    public const string AdminEmail = "admin@a67.test";

    /// <summary>Extra settings a test class needs; read once, at start.</summary>
    public Dictionary<string, string?> Settings { get; } = new()
    {
        // One above the minimum, so a test can plant a minimum-cost hash and watch login upgrade it.
        ["Auth__PasswordHashIterations"] = "3",
        // Every test signs in from 127.0.0.1; RateLimitTests sets its own low limits.
        ["RateLimits__SignupPerIpPerHour"] = "100000",
        ["RateLimits__LoginPerIpPerMinute"] = "100000",
        ["RateLimits__RefreshPerIpPerMinute"] = "100000",
        ["RateLimits__TwoFactorPerIpPerMinute"] = "100000",
    };

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _queues.InitializeAsync();
        _port = ProductProcess.FreePort();
        Http.BaseAddress = new Uri($"http://127.0.0.1:{_port}");
        await StartAsync();
    }

    /// <summary>Starts the control plane (again, after <see cref="StopAsync"/>) on the same port, database and queues; returns once it is ready.</summary>
    public async Task StartAsync()
    {
        _process = ProductProcess.StartControlPlane(Environment(_port));
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        if (!await _process.WaitUntilAnsweringAsync(Http, "/healthz", cap.Token))
        {
            throw new InvalidOperationException($"the control plane exited: {_process.Stderr}{_process.Stdout}");
        }

        while ((await Http.GetAsync("/readyz", cap.Token)).StatusCode != System.Net.HttpStatusCode.OK)
        {
            await Task.Delay(100, cap.Token);
        }
    }

    /// <summary>Stops the control plane gracefully (SIGTERM) and waits for it to exit; its output stays readable.</summary>
    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        _stoppedOutput += _process.Stdout + _process.Stderr;
        _process.Terminate();
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(cap.Token);
        await _process.DisposeAsync();
        _process = null;
    }

    /// <summary>SIGKILL: no shutdown at all, as in a power cut or an OOM kill; its output stays readable.</summary>
    public async Task KillAsync()
    {
        if (_process is null)
        {
            return;
        }

        await _process.DisposeAsync();
        _stoppedOutput += _process.Stdout + _process.Stderr;
        _process = null;
    }

    public Dictionary<string, string?> Environment(int port)
    {
        var environment = new Dictionary<string, string?>(Settings)
        {
            ["ConnectionStrings__Postgres"] = _database.ConnectionString,
            // A test class may route the control plane's queue traffic elsewhere (through a recording proxy, say).
            ["AzureWebJobsStorage"] = Settings.GetValueOrDefault("AzureWebJobsStorage") ?? TestEnvironment.Storage,
            ["Queues__Prefix"] = _queues.Prefix,
            ["ControlPlane__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Auth__SigningKeyFile"] = SigningKeyFile,
            ["Nodes__CommandSigningKeyFile"] = CommandSigningKeyFile,
            ["Auth__AdminEmail"] = AdminEmail,
        };
        // Every key file in the fixture's folder (unless a test names its own): a default is relative to the build
        // output, which tests must not write to.
        environment.TryAdd("TwoFactor__SecretKeyFile", Path.Combine(_keyDirectory, "two-factor-key.json"));
        environment.TryAdd("Secrets__KeyFile", SecretsKeyFile);
        return environment;
    }

    /// <summary>Everything the control plane wrote, across restarts.</summary>
    public string Output => _stoppedOutput + (_process is null ? "" : _process.Stdout + _process.Stderr);

    /// <summary>Signs up a fresh account and returns its tokens.</summary>
    public async Task<Session> SignUpAsync(string? email = null, string password = "correct horse battery staple")
    {
        email ??= $"user-{Guid.NewGuid():N}@a67.test";
        using var response = await Http.PostAsJsonAsync("/api/auth/signup", new { email, password });
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != System.Net.HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"signup failed: {(int)response.StatusCode} {body}");
        }

        return Session.From(email, password, body);
    }

    /// <summary>A client whose connections come from another loopback address (127.0.0.0/8), i.e. another IP.</summary>
    public HttpClient ClientFrom(string localAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(localAddress), 0));
            await socket.ConnectAsync(context.DnsEndPoint, ct);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = Http.BaseAddress, Timeout = Http.Timeout };

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? accessToken, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await Http.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        Http.Dispose();
        await _queues.DisposeAsync();
        await _database.DisposeAsync();
        Directory.Delete(_keyDirectory, recursive: true);
    }

    public sealed record Session(string Email, string Password, Guid AccountId, Guid SessionId, string AccessToken, string RefreshToken)
    {
        public static Session From(string email, string password, string tokenResponse)
        {
            using var json = JsonDocument.Parse(tokenResponse);
            var root = json.RootElement;
            return new Session(email, password, root.GetProperty("account").GetProperty("id").GetGuid(), root.GetProperty("sessionId").GetGuid(),
                root.GetProperty("accessToken").GetString()!, root.GetProperty("refreshToken").GetString()!);
        }
    }
}
