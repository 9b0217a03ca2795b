using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// What relay tests share per class: the real control plane (heartbeats every 2 s, so a test sees one soon) and the
/// Docker Engine whose containers of this run are removed afterwards.
/// </summary>
public sealed class RelayRunFixture : IAsyncLifetime
{
    public ControlPlaneFixture ControlPlane { get; } = new();

    public DockerFixture Docker { get; } = new();

    public async ValueTask InitializeAsync()
    {
        ControlPlane.Settings["Nodes__HeartbeatInterval"] = "00:00:02";
        // These tests read the events queue themselves, checking each event as the control plane would; its own
        // consumer would take them first (tests/Features/Relay covers the consumer).
        ControlPlane.Settings["RelayEvents__Consume"] = "false";
        await ControlPlane.InitializeAsync();
        await Docker.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Docker.DisposeAsync();
        await ControlPlane.DisposeAsync();
    }
}

/// <summary>The relays one test starts (enrolled, with the events they send), all killed and cleaned up when it ends.</summary>
public sealed class RelayScope(RelayRunFixture fixture) : IAsyncDisposable
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    readonly List<RelayHarness> _relays = [];
    readonly RelayEvents _events = new(fixture.ControlPlane);

    public async Task<RelayHarness> RelayAsync(CancellationToken ct, bool start = true, Action<Dictionary<string, string?>>? settings = null)
    {
        var relay = await RelayHarness.EnrolAsync(fixture.ControlPlane, fixture.Docker, _events, ct);
        _relays.Add(relay);
        settings?.Invoke(relay.Settings);
        if (start)
        {
            await relay.StartAsync(ct);
        }

        return relay;
    }

    /// <summary>Waits until the sample app answers on the port, and returns what it said.</summary>
    public static async Task<string> AnswerAsync(int port, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await Http.GetStringAsync($"http://127.0.0.1:{port}/", ct);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        while (!await condition())
        {
            await Task.Delay(50, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var relay in _relays)
        {
            await relay.DisposeAsync();
        }
    }
}
