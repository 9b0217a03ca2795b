using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Features.Operations;
using Automator67.Tests.Infrastructure;
using Automator67.Tests.NodeRelay;

namespace Automator67.Tests.Features.Metrics;

/// <summary>
/// The real control plane (2 s heartbeats, the retention job every minute) and one relay on the Docker Engine, with an
/// app of two replicas of the sample image deployed through the API; each replica also spins a little CPU (capped at
/// 5% of a core), so its CPU is not zero.
/// </summary>
public sealed class MetricsFixture : IAsyncLifetime
{
    public ControlPlaneFixture ControlPlane { get; } = new();

    public DockerFixture Docker { get; } = new();

    public BridgeNetworkFixture Network { get; } = new();

    public RelayHarness Relay { get; private set; } = null!;

    public ControlPlaneFixture.Session Owner { get; private set; } = null!;

    public OperationsClient Client { get; private set; } = null!;

    public Guid AppId { get; private set; }

    public const int Replicas = 2;

    static readonly string[] SpinningCommand = ["/bin/sh", "-c", "(while :; do :; done) & exec /bin/sh /app/start.sh"];

    public async ValueTask InitializeAsync()
    {
        ControlPlane.Settings["Nodes__HeartbeatInterval"] = "00:00:02";
        ControlPlane.Settings["Operations__FirstRetryDelay"] = "00:00:00.500";
        ControlPlane.Settings["Operations__RecoverySeconds"] = "2";
        ControlPlane.Settings["Metrics__RollupMinutes"] = "1";
        await ControlPlane.InitializeAsync();
        await Docker.InitializeAsync();
        await Network.InitializeAsync();
        await Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", CancellationToken.None);
        Owner = await ControlPlane.SignUpAsync();
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        Relay = await RelayHarness.EnrolAsync(ControlPlane, Docker, new RelayEvents(ControlPlane), cap.Token, Owner);
        Relay.Settings["Relay__BridgeNetwork"] = Network.Name;
        await Relay.StartAsync(cap.Token);
        while (true)
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, "/api/nodes?status=Ready", Owner.AccessToken);
            if ((await response.Content.ReadFromJsonAsync<JsonElement>(cap.Token)).GetArrayLength() == 1)
            {
                break;
            }

            await Task.Delay(200, cap.Token);
        }

        Client = new OperationsClient(ControlPlane.Http, Owner.AccessToken);
        AppId = await Client.CreateAppAsync("metrics", cap.Token);
        var operation = await Client.DeployAsync(AppId, new
        {
            image = $"{TestEnvironment.SampleImage}:v1",
            replicas = Replicas,
            command = SpinningCommand,
            env = new Dictionary<string, string> { ["PORT"] = "8080" },
            ports = new[] { new { containerPort = 8080 } },
            resources = new { memoryMiB = 32, cpus = 0.05 },
            healthCheck = new { kind = "http", port = 8080, path = "/healthz", intervalSeconds = 1, timeoutSeconds = 1, retries = 3 },
            restartPolicy = new { name = "no" },
        }, cap.Token);
        var done = await Client.FinishedAsync(operation, () => ControlPlane.Output, cap.Token);
        if (done.GetProperty("status").GetString() != "Succeeded")
        {
            throw new InvalidOperationException($"the deployment did not succeed: {done}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Relay is not null)
        {
            await Relay.DisposeAsync();
        }

        await Network.DisposeAsync();
        await Docker.DisposeAsync();
        await ControlPlane.DisposeAsync();
    }
}
