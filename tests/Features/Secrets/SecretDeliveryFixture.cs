using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;
using Automator67.Tests.NodeRelay;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// The real control plane and two relays of one account on the Docker Engine (as DeploymentFixture), with every queue
/// byte going through a <see cref="RecordingProxy"/>, a private registry that asks for credentials, and a client that
/// keeps every API response: what a secret's delivery is searched in afterwards.
/// </summary>
public sealed class SecretDeliveryFixture : IAsyncLifetime
{
    readonly List<RelayHarness> _relays = [];

    /// <summary>In front of the local stack's Azurite queue endpoint (its development account; A67_AZURITE_QUEUE_PORT moves it).</summary>
    public RecordingProxy Queues { get; } = new(new IPEndPoint(IPAddress.Loopback, new Azure.Storage.Queues.QueueServiceClient(TestEnvironment.Storage).Uri.Port));

    public ControlPlaneFixture ControlPlane { get; } = new();

    public DockerFixture Docker { get; } = new();

    public BridgeNetworkFixture Network { get; } = new();

    public PrivateRegistryFixture Registry { get; } = new();

    public ControlPlaneFixture.Session Owner { get; private set; } = null!;

    public IReadOnlyList<RelayHarness> Relays => _relays;

    /// <summary>Every response body the tests' client received.</summary>
    public RecordingHandler Responses { get; } = new();

    public HttpClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Queues.Start();
        ControlPlane.Settings["AzureWebJobsStorage"] = Queues.ConnectionString;
        // Not the quickest heartbeats: on a loaded machine (the whole suite at once) a node must not drop out of
        // placement between two steps of a test; nothing here waits for a node to be noticed gone.
        ControlPlane.Settings["Nodes__HeartbeatInterval"] = "00:00:05";
        ControlPlane.Settings["Operations__FirstRetryDelay"] = "00:00:00.500";
        ControlPlane.Settings["Operations__RecoverySeconds"] = "2";
        await ControlPlane.InitializeAsync();
        await Docker.InitializeAsync();
        await Network.InitializeAsync();
        await Registry.InitializeAsync();
        await Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", CancellationToken.None);
        Client = new HttpClient(Responses) { BaseAddress = ControlPlane.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(15) };
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

        await BothReadyAsync(cap.Token);
    }

    /// <summary>Placement takes Ready nodes only: waits until both have a fresh heartbeat.</summary>
    public async Task BothReadyAsync(CancellationToken ct)
    {
        while (true)
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, "/api/nodes?status=Ready", Owner.AccessToken);
            if ((await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetArrayLength() == 2)
            {
                return;
            }

            await Task.Delay(200, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var relay in _relays)
        {
            await relay.DisposeAsync();
        }

        Client?.Dispose();
        await Registry.DisposeAsync();
        await Network.DisposeAsync();
        await Docker.DisposeAsync();
        await ControlPlane.DisposeAsync();
        await Queues.DisposeAsync();
    }
}

/// <summary>Keeps the body of every response that passes (the API's answers to the tests).</summary>
public sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    readonly List<string> _bodies = [];

    public IReadOnlyList<string> Bodies
    {
        get
        {
            lock (_bodies)
            {
                return [.. _bodies];
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        lock (_bodies)
        {
            _bodies.Add($"{request.Method} {request.RequestUri} {(int)response.StatusCode} {string.Join(" ", response.Headers.Select(h => $"{h.Key}: {string.Join(",", h.Value)}"))}\n{body}");
        }

        return response;
    }
}
