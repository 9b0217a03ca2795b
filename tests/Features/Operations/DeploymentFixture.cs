using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;
using Automator67.Tests.NodeRelay;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// The real control plane (its events consumer on, so results advance operations) and two relays of one account on
/// the one Docker Engine: two nodes as far as placement knows. Quick heartbeats and retries, so a test sees them.
/// </summary>
public sealed class DeploymentFixture : IAsyncLifetime
{
    readonly List<RelayHarness> _relays = [];

    public ControlPlaneFixture ControlPlane { get; } = new();

    public DockerFixture Docker { get; } = new();

    /// <summary>Replicas run on a bridge network of their own (the stack's Engine has no default bridge).</summary>
    public BridgeNetworkFixture Network { get; } = new();

    public ControlPlaneFixture.Session Owner { get; private set; } = null!;

    public IReadOnlyList<RelayHarness> Relays => _relays;

    public async ValueTask InitializeAsync()
    {
        ControlPlane.Settings["Nodes__HeartbeatInterval"] = "00:00:02";
        ControlPlane.Settings["Operations__FirstRetryDelay"] = "00:00:00.500";
        ControlPlane.Settings["Operations__RecoverySeconds"] = "2";
        await ControlPlane.InitializeAsync();
        await Docker.InitializeAsync();
        await Network.InitializeAsync();
        await Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", CancellationToken.None);
        Owner = await ControlPlane.SignUpAsync();
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new RelayEvents(ControlPlane);
        for (var i = 0; i < 2; i++)
        {
            var relay = await RelayHarness.EnrolAsync(ControlPlane, Docker, events, cap.Token, Owner);
            _relays.Add(relay);
            relay.Settings["Relay__BridgeNetwork"] = Network.Name;
            await relay.StartAsync(cap.Token);
        }

        // Placement takes Ready nodes only: wait for both to have sent a heartbeat.
        while (true)
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, "/api/nodes?status=Ready", Owner.AccessToken);
            if ((await response.Content.ReadFromJsonAsync<JsonElement>(cap.Token)).GetArrayLength() == 2)
            {
                break;
            }

            await Task.Delay(200, cap.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var relay in _relays)
        {
            await relay.DisposeAsync();
        }

        await Network.DisposeAsync();
        await Docker.DisposeAsync();
        await ControlPlane.DisposeAsync();
    }
}
