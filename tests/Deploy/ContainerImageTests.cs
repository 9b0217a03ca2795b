using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Deploy;

/// <summary>
/// Dockerfile.control-plane and Dockerfile.relay build from this repository (on stand-ins for the MCR .NET images,
/// which this machine cannot reach: scripts/images.sh) and run as docs/containers.md says: the control plane on the
/// local stack's PostgreSQL and Azurite answers /healthz and /readyz and its HEALTHCHECK turns healthy; the relay
/// enrols with it through the Docker socket and its node turns Ready. Building both takes minutes on this machine, so
/// this runs only with A67_IMAGE_TESTS=1 (<c>./a67 images</c> sets it).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ContainerImageTests(ITestOutputHelper output) : IAsyncLifetime
{
    public static bool Enabled => Environment.GetEnvironmentVariable("A67_IMAGE_TESTS") == "1";

    readonly DatabaseFixture _database = new();
    readonly QueueFixture _queues = new();
    readonly string _tag = $"t{TestEnvironment.RunId}";
    readonly string _label = $"{DockerFixture.RunLabel}={TestEnvironment.RunId}";
    readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    static string Images => Path.Combine(TestEnvironment.RepositoryRoot, "scripts", "images.sh");

    public async ValueTask InitializeAsync()
    {
        if (Enabled)
        {
            await _database.InitializeAsync();
            await _queues.InitializeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Enabled)
        {
            // Removing the build stages takes minutes on vfs: every layer is a whole copy of the SDK.
            using var cap = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            await Docker(["rm", "-f", "a67t-" + _tag + "-cp", "a67t-" + _tag + "-relay"], cap.Token);
            await Docker(["volume", "rm", "-f", "a67t-" + _tag + "-relay"], cap.Token);
            var clean = await Shell.RunAsync(Images, ["clean", "--label", _label], cap.Token);
            output.WriteLine(clean.Output);
            await _queues.DisposeAsync();
            await _database.DisposeAsync();
        }

        _http.Dispose();
    }

    static Task<Shell.Result> Docker(string[] args, CancellationToken ct) => Shell.RunAsync("docker", args, ct);

    [Fact(Skip = "builds both images (minutes here): set A67_IMAGE_TESTS=1, or run ./a67 images", SkipUnless = nameof(Enabled))]
    public async Task Images_BuildFromThisRepository_AndRunAsDocumented()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromMinutes(25));
        var clock = Stopwatch.StartNew();
        // A67_IMAGE_BASES=mcr builds on mcr.microsoft.com instead, where it is reachable.
        string[] bases = Environment.GetEnvironmentVariable("A67_IMAGE_BASES") == "mcr" ? [] : ["--local-bases"];
        var build = await Shell.RunAsync(Images, ["build", .. bases, "--tag", _tag, "--label", _label], ct);
        output.WriteLine($"build: {clock.Elapsed.TotalSeconds:F0} s\n{build.Output}");
        Assert.True(build.ExitCode == 0, build.Output);

        // The relay image: its version, as its non-root user.
        var version = await Docker(["run", "--rm", "--network", "host", "--label", _label, $"automator67/relay:{_tag}", "version"], ct);
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.Matches(@"^node-relay \d+\.\d+\.\d+", version.Stdout.Trim());

        // The control plane image on the local stack, with a short health interval so its HEALTHCHECK runs soon.
        var port = ProductProcess.FreePort();
        var controlPlane = await Docker(["run", "-d", "--name", $"a67t-{_tag}-cp", "--network", "host", "--label", _label, "--health-interval", "2s",
            "-e", $"ConnectionStrings__Postgres={_database.ConnectionString}", "-e", $"AzureWebJobsStorage={TestEnvironment.Storage}",
            "-e", $"Queues__Prefix={_queues.Prefix}", "-e", $"ControlPlane__Port={port.ToString(CultureInfo.InvariantCulture)}",
            $"automator67/control-plane:{_tag}"], ct);
        Assert.True(controlPlane.ExitCode == 0, controlPlane.Output);
        _http.BaseAddress = new Uri($"http://127.0.0.1:{port}");
        Assert.Equal(200, await WaitForStatusCodeAsync("/readyz", 200, ct));
        Assert.Equal(200, await WaitForStatusCodeAsync("/healthz", 200, ct));
        Assert.Equal("healthy", await WaitForHealthAsync($"a67t-{_tag}-cp", ct));
        var inside = await Docker(["exec", $"a67t-{_tag}-cp", "sh", "-c", "id -u; stat -c '%u %a' /var/lib/automator67/keys/signing-keys.json"], ct);
        Assert.Equal(["1654", "1654 600"], inside.Stdout.Trim().Split('\n'));

        // The relay image enrols with it through the host's Docker socket (the socket's group added), then runs.
        using var signup = await _http.PostAsJsonAsync("/api/auth/signup", new { email = $"img-{_tag}@a67.test", password = "correct horse battery staple" }, ct);
        var accessToken = (await signup.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("accessToken").GetString();
        _http.DefaultRequestHeaders.Authorization = new("Bearer", accessToken);
        using var joinToken = await _http.PostAsJsonAsync("/api/nodes/join-tokens", new { name = "edge-image" }, ct);
        var token = (await joinToken.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("token").GetString()!;
        var socket = new Uri(TestEnvironment.DockerEndpoint).AbsolutePath;
        var socketGroup = (await Shell.RunAsync("stat", ["-c", "%g", socket], ct)).Stdout.Trim();
        string[] relayRun = ["--network", "host", "--label", _label, "--group-add", socketGroup,
            "-v", $"{socket}:/var/run/docker.sock", "-v", $"a67t-{_tag}-relay:/var/lib/automator67-relay"];
        await Docker(["volume", "create", "--label", _label, $"a67t-{_tag}-relay"], ct);
        var enroll = await Docker(["run", "--rm", .. relayRun, $"automator67/relay:{_tag}", "enroll", "--url", _http.BaseAddress.ToString(), "--token", token], ct);
        Assert.True(enroll.ExitCode == 0, enroll.Output);
        Assert.Contains("enrolled as node edge-image", enroll.Stdout, StringComparison.Ordinal);
        var run = await Docker(["run", "-d", "--name", $"a67t-{_tag}-relay", .. relayRun, $"automator67/relay:{_tag}"], ct);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("Ready", await WaitForNodeAsync("edge-image", "Ready", ct));
        output.WriteLine($"whole test: {clock.Elapsed.TotalSeconds:F0} s");
    }

    async Task<int> WaitForStatusCodeAsync(string path, int wanted, CancellationToken ct)
    {
        var last = 0;
        for (var i = 0; i < 120 && last != wanted; i++)
        {
            try
            {
                using var response = await _http.GetAsync(path, ct);
                last = (int)response.StatusCode;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(500, ct);
            }
        }

        return last;
    }

    static async Task<string> WaitForHealthAsync(string container, CancellationToken ct)
    {
        var status = "";
        for (var i = 0; i < 60 && status != "healthy"; i++)
        {
            await Task.Delay(1000, ct);
            status = (await Docker(["inspect", "--format", "{{.State.Health.Status}}", container], ct)).Stdout.Trim();
        }

        return status;
    }

    async Task<string?> WaitForNodeAsync(string name, string wanted, CancellationToken ct)
    {
        string? status = null;
        for (var i = 0; i < 120 && status != wanted; i++)
        {
            await Task.Delay(500, ct);
            var nodes = await _http.GetFromJsonAsync<JsonElement>("/api/nodes", ct);
            var items = nodes.ValueKind == JsonValueKind.Array ? nodes : nodes.GetProperty("items");
            status = items.EnumerateArray().Where(n => n.GetProperty("name").GetString() == name).Select(n => n.GetProperty("status").GetString()).FirstOrDefault();
        }

        return status;
    }
}
