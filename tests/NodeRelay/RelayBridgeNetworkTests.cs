using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Ctx = Automator67.Contracts.Relay.RelayJsonContext;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// Replicas on a bridge network (<see cref="BridgeNetworkFixture"/>, named in <c>Relay__BridgeNetwork</c>) rather than
/// the host's: the container port is published on the host, and probes go from the relay to the container's own
/// address on the bridge.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RelayBridgeNetworkTests(RelayRunFixture fixture, BridgeNetworkFixture network)
    : IClassFixture<RelayRunFixture>, IClassFixture<BridgeNetworkFixture>, IAsyncDisposable
{
    const int AppPort = 8080;

    readonly RelayScope _scope = new(fixture);

    public ValueTask DisposeAsync() => _scope.DisposeAsync();

    Task<RelayHarness> RelayAsync(CancellationToken ct, string? bridge = null) =>
        _scope.RelayAsync(ct, settings: s => s["Relay__BridgeNetwork"] = bridge ?? network.Name);

    /// <summary>The sample app listening on 8080 inside its container, published on <paramref name="hostPort"/> (null: one the Engine picks).</summary>
    static RunReplicaBody BridgeReplica(string tag, string app, int? hostPort = null) =>
        RelayHarness.SampleReplica(tag, AppPort, app: app) with
        {
            NetworkMode = "bridge",
            Ports = [new PortBinding(AppPort, hostPort)],
        };

    /// <summary>The replica's container, as the Engine has it: on the bridge network, with an address there.</summary>
    async Task<(string Address, Docker.DotNet.Models.NetworkSettings Settings)> OnTheBridgeAsync(CommandResult run, CancellationToken ct)
    {
        var container = await fixture.Docker.Client.Containers.InspectContainerAsync(RelayHarness.OutputOf(run, Ctx.Default.RunReplicaOutput).ContainerId, ct);
        Assert.Equal(network.Name, container.HostConfig?.NetworkMode);
        Assert.NotNull(container.NetworkSettings);
        var address = container.NetworkSettings.Networks[network.Name].IPAddress;
        Assert.False(string.IsNullOrEmpty(address));
        return (address, container.NetworkSettings);
    }

    [Fact]
    public async Task Probes_ReachTheReplicaAtItsBridgeAddress_AndItsPortIsPublishedOnTheHost()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        var replica = new ReplicaSelector("bridged", "r1", 0);

        var run = await relay.RunAsync(CommandKinds.RunReplica, BridgeReplica("v1", "bridged"), Ctx.Default.RunReplicaBody, ct);
        Assert.True(run.Status == ResultStatuses.Succeeded, run.Error);
        var (address, settings) = await OnTheBridgeAsync(run, ct);
        // The host port the Engine picked, as run-replica reports it.
        var published = Assert.Single(RelayHarness.OutputOf(run, Ctx.Default.RunReplicaOutput).Ports!);
        var hostPort = published.HostPort!.Value;
        Assert.Equal((AppPort, "tcp"), (published.ContainerPort, published.Protocol));
        Assert.Equal(hostPort.ToString(CultureInfo.InvariantCulture), settings.Ports[$"{AppPort}/tcp"].First(b => b.HostIP == "0.0.0.0").HostPort);
        Assert.Contains("automator67 sample v1", await RelayScope.AnswerAsync(hostPort, ct), StringComparison.Ordinal);

        var http = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Http, AppPort, "/healthz", null, 2000), Ctx.Default.ProbeBody, ct);
        var tcp = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Tcp, AppPort, null, null, 2000), Ctx.Default.ProbeBody, ct);

        Assert.True(http.Status == ResultStatuses.Succeeded, http.Error);
        var httpOutput = RelayHarness.OutputOf(http, Ctx.Default.ProbeOutput);
        Assert.Equal(($"http://{address}:{AppPort}/healthz", 200), (httpOutput.Target, httpOutput.StatusCode));
        Assert.True(tcp.Status == ResultStatuses.Succeeded, tcp.Error);
        Assert.Equal($"{address}:{AppPort}", RelayHarness.OutputOf(tcp, Ctx.Default.ProbeOutput).Target);
    }

    [Fact]
    public async Task Probes_Fail_WithinTheirTimeout_NamingTheTarget_WhenTheBridgeReplicaNeverListens()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v3", ct);
        var replica = new ReplicaSelector("deaf", "r1", 0);
        var run = await relay.RunAsync(CommandKinds.RunReplica, BridgeReplica("v3", "deaf"), Ctx.Default.RunReplicaBody, ct);
        Assert.True(run.Status == ResultStatuses.Succeeded, run.Error);
        var (address, _) = await OnTheBridgeAsync(run, ct);

        var http = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Http, AppPort, "/healthz", null, 1000), Ctx.Default.ProbeBody, ct);
        var tcp = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Tcp, AppPort, null, null, 1000), Ctx.Default.ProbeBody, ct);

        foreach (var (probe, target) in new[] { (http, $"http http://{address}:{AppPort}/healthz"), (tcp, $"tcp {address}:{AppPort}") })
        {
            Assert.Equal(ResultStatuses.Failed, probe.Status);
            var output = RelayHarness.OutputOf(probe, Ctx.Default.ProbeOutput);
            Assert.False(output.Healthy);
            Assert.True(output.ElapsedMs <= 1500, $"the probe took {output.ElapsedMs} ms");
            Assert.StartsWith($"probe {target}: ", probe.Error, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(output.Detail));
        }
    }

    [Fact]
    public async Task RunReplica_Fails_NamingThePort_AndLeavesNoContainer_WhenABridgeReplicasHostPortIsTaken()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        using var holder = new TcpListener(IPAddress.Any, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var result = await relay.RunAsync(CommandKinds.RunReplica, BridgeReplica("v1", "clash", port), Ctx.Default.RunReplicaBody, ct);

        Assert.Equal(ResultStatuses.Failed, result.Status);
        Assert.StartsWith($"host port {port} is already in use (", result.Error, StringComparison.Ordinal);
        Assert.Empty(await relay.ContainersAsync(ct));
    }

    [Fact]
    public async Task RunReplica_Fails_SayingSo_WhenTheEngineHasNoSuchBridgeNetwork()
    {
        var ct = TestEnvironment.TimeCap();
        var missing = $"a67t-{TestEnvironment.RunId}-missing";
        var relay = await RelayAsync(ct, bridge: missing);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);

        var result = await relay.RunAsync(CommandKinds.RunReplica, BridgeReplica("v1", "lost"), Ctx.Default.RunReplicaBody, ct);

        Assert.Equal(ResultStatuses.Failed, result.Status);
        Assert.StartsWith($"this Docker Engine has no network '{missing}' for bridge replicas", result.Error, StringComparison.Ordinal);
        Assert.Contains("Relay__BridgeNetwork", result.Error, StringComparison.Ordinal);
        Assert.Empty(await relay.ContainersAsync(ct));
    }
}
