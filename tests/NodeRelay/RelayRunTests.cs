using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Ctx = Automator67.Contracts.Relay.RelayJsonContext;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// <c>node-relay run</c> end to end, one command kind after another: the real relay process, enrolled with the real
/// control plane, taking signed commands from its Azurite queue and executing them on the real Docker Engine with the
/// sample images; and what it refuses.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RelayRunTests(RelayRunFixture fixture) : IClassFixture<RelayRunFixture>, IAsyncDisposable
{
    readonly RelayScope _scope = new(fixture);

    public ValueTask DisposeAsync() => _scope.DisposeAsync();

    [Fact]
    public async Task Run_Exits2_WithOneLine_WhenNotEnrolled()
    {
        var ct = TestEnvironment.TimeCap();
        var empty = Directory.CreateTempSubdirectory("a67-relay-none-").FullName;
        try
        {
            await using var relay = ProductProcess.StartRelay(["run"], new Dictionary<string, string?> { ["Relay__StateDirectory"] = empty });

            Assert.Equal(2, await relay.WaitForExitAsync(ct));
            Assert.StartsWith($"node-relay: this relay is not enrolled: no {empty}/node.json; run 'node-relay enroll", relay.Stderr, StringComparison.Ordinal);
            Assert.Single(relay.Stderr.Trim().Split('\n'));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public async Task Ping_AnswersWithTheDockerVersion_ASignedResultThroughTheQueues()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct);
        var version = await fixture.Docker.Client.System.GetVersionAsync(ct);

        var result = await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct);

        Assert.Equal(ResultStatuses.Succeeded, result.Status);
        Assert.Equal(CommandKinds.Ping, result.Kind);
        var ping = RelayHarness.OutputOf(result, Ctx.Default.PingOutput);
        Assert.Equal(version.Version, ping.DockerVersion);
        Assert.Equal(version.APIVersion, ping.DockerApiVersion);
        // The queue is empty again: the message is deleted once its result is sent.
        await RelayScope.WaitUntilAsync(async () => (await relay.CommandQueue.GetPropertiesAsync(ct)).Value.ApproximateMessagesCount == 0, ct);
    }

    [Fact]
    public async Task PullImage_PullsFromTheLocalRegistry_AndFails_WithTheRegistrysReason_ForAMissingImage()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct);

        var pulled = await relay.RunAsync(CommandKinds.PullImage, new PullImageBody($"{TestEnvironment.SampleImage}:v1", null), Ctx.Default.PullImageBody, ct);
        var missing = await relay.RunAsync(CommandKinds.PullImage, new PullImageBody($"{TestEnvironment.SampleImage}:no-such-tag", null), Ctx.Default.PullImageBody, ct);

        Assert.Equal(ResultStatuses.Succeeded, pulled.Status);
        var output = RelayHarness.OutputOf(pulled, Ctx.Default.PullImageOutput);
        Assert.Equal((await fixture.Docker.Client.Images.InspectImageAsync($"{TestEnvironment.SampleImage}:v1", ct)).ID, output.ImageId);
        Assert.Equal(ResultStatuses.Failed, missing.Status);
        Assert.StartsWith($"pulling {TestEnvironment.SampleImage}:no-such-tag failed: ", missing.Error, StringComparison.Ordinal);
        Assert.Contains("not found", missing.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task RunReplica_StartsAHardenedLabelledContainer_ThatAnswers_AndNeverMakesASecond()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var relay = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        var port = ProductProcess.FreePort();
        var body = RelayHarness.SampleReplica("v1", port);

        var first = relay.Sign(CommandKinds.RunReplica, body, Ctx.Default.RunReplicaBody);
        var created = await relay.ResultAsync(await relay.EnqueueAsync(first, ct), ct);
        Assert.True(created.Status == ResultStatuses.Succeeded, created.Error);
        Assert.Contains("automator67 sample v1", await RelayScope.AnswerAsync(port, ct), StringComparison.Ordinal);
        var made = RelayHarness.OutputOf(created, Ctx.Default.RunReplicaOutput);
        Assert.True(made.Created);

        // Hardened, labelled.
        var container = await fixture.Docker.Client.Containers.InspectContainerAsync(made.ContainerId, ct);
        Assert.NotNull(container.HostConfig);
        Assert.Equal(["ALL"], container.HostConfig.CapDrop);
        Assert.Contains("no-new-privileges:true", container.HostConfig.SecurityOpt);
        Assert.False(container.HostConfig.Privileged);
        Assert.Equal(512, container.HostConfig.PidsLimit);
        Assert.Equal(64 * 1024 * 1024, container.HostConfig.Memory);
        Assert.NotNull(container.Config);
        Assert.Equal("web", container.Config.Labels[ContainerLabels.App]);
        Assert.Equal("r1", container.Config.Labels[ContainerLabels.Release]);
        Assert.Equal("0", container.Config.Labels[ContainerLabels.Replica]);
        Assert.Equal("1", container.Config.Labels[ContainerLabels.Generation]);
        Assert.Equal(relay.NodeId.ToString(), container.Config.Labels[ContainerLabels.Node]);
        Assert.Equal(created.CommandId.ToString(), container.Config.Labels[ContainerLabels.Command]);
        Assert.Equal(TestEnvironment.RunId, container.Config.Labels[DockerFixture.RunLabel]);

        // The same command again, in a new message: a replay, refused with the first outcome, nothing made.
        await relay.EnqueueAsync(first, ct);
        var replay = await relay.ResultAsync(r => r.CommandId == created.CommandId && r.Status == ResultStatuses.Refused, ct);
        Assert.StartsWith($"replayed: command {created.CommandId} was executed already", replay.Error, StringComparison.Ordinal);
        Assert.Equal(ResultStatuses.Succeeded, RelayHarness.OutputOf(replay, Ctx.Default.CommandResult).Status);

        // A new command for the same replica and generation finds the container instead of making another.
        var again = await relay.RunAsync(CommandKinds.RunReplica, body, Ctx.Default.RunReplicaBody, ct);
        Assert.Equal(ResultStatuses.Succeeded, again.Status);
        Assert.False(RelayHarness.OutputOf(again, Ctx.Default.RunReplicaOutput).Created);
        Assert.Equal(made.ContainerId, RelayHarness.OutputOf(again, Ctx.Default.RunReplicaOutput).ContainerId);
        Assert.Single(await relay.ContainersAsync(ct));
    }

    [Fact]
    public async Task ReplicaCommands_StopRestartInspectLogsProbeAndRemove_ActOnTheReplicasContainer()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var relay = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        var port = ProductProcess.FreePort();
        var replica = new ReplicaSelector("web", "r1", 0);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v1", port), Ctx.Default.RunReplicaBody, ct)).Status);
        await RelayScope.AnswerAsync(port, ct);

        var http = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Http, port, "/healthz", null, 2000), Ctx.Default.ProbeBody, ct);
        var tcp = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Tcp, port, null, null, 2000), Ctx.Default.ProbeBody, ct);
        var exec = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Exec, null, null, ["cat", "/www/healthz"], 5000), Ctx.Default.ProbeBody, ct);
        var logs = await relay.RunAsync(CommandKinds.Logs, new LogsBody(replica, 10), Ctx.Default.LogsBody, ct);
        var inspect = await relay.RunAsync(CommandKinds.Inspect, new ReplicaBody(replica), Ctx.Default.ReplicaBody, ct);

        Assert.True(http.Status == ResultStatuses.Succeeded, http.Error);
        Assert.Equal(200, RelayHarness.OutputOf(http, Ctx.Default.ProbeOutput).StatusCode);
        Assert.True(tcp.Status == ResultStatuses.Succeeded, tcp.Error);
        Assert.True(exec.Status == ResultStatuses.Succeeded, exec.Error);
        Assert.Equal("ok", RelayHarness.OutputOf(exec, Ctx.Default.ProbeOutput).Detail);
        Assert.Contains($"automator67 sample v1 listening on 0.0.0.0:{port}", RelayHarness.OutputOf(logs, Ctx.Default.LogsOutput).Text, StringComparison.Ordinal);
        var running = Assert.Single(RelayHarness.OutputOf(inspect, Ctx.Default.InspectOutput).Containers);
        Assert.Equal("running", running.State);
        Assert.NotNull(running.StartedAt);

        var stop = await relay.RunAsync(CommandKinds.Stop, new StopBody(replica, 5), Ctx.Default.StopBody, ct);
        var stopped = Assert.Single(RelayHarness.OutputOf(await relay.RunAsync(CommandKinds.Inspect, new ReplicaBody(replica), Ctx.Default.ReplicaBody, ct), Ctx.Default.InspectOutput).Containers);
        Assert.Equal(ResultStatuses.Succeeded, stop.Status);
        Assert.Equal("exited", stopped.State);
        Assert.NotNull(stopped.ExitCode);

        var restart = await relay.RunAsync(CommandKinds.Restart, new ReplicaBody(replica), Ctx.Default.ReplicaBody, ct);
        Assert.True(restart.Status == ResultStatuses.Succeeded, restart.Error);
        Assert.Contains("automator67 sample v1", await RelayScope.AnswerAsync(port, ct), StringComparison.Ordinal);

        var remove = await relay.RunAsync(CommandKinds.Remove, new RemoveBody(replica), Ctx.Default.RemoveBody, ct);
        Assert.Equal(ResultStatuses.Succeeded, remove.Status);
        Assert.Single(RelayHarness.OutputOf(remove, Ctx.Default.ContainersOutput).ContainerIds);
        Assert.Empty(await relay.ContainersAsync(ct));

        // Gone is fine for stop and remove (a redelivered command must succeed where the first did the work);
        // the commands that need a container say it has none.
        var stopAgain = await relay.RunAsync(CommandKinds.Stop, new StopBody(replica), Ctx.Default.StopBody, ct);
        var removeAgain = await relay.RunAsync(CommandKinds.Remove, new RemoveBody(replica), Ctx.Default.RemoveBody, ct);
        var logsGone = await relay.RunAsync(CommandKinds.Logs, new LogsBody(replica), Ctx.Default.LogsBody, ct);
        Assert.Equal(ResultStatuses.Succeeded, stopAgain.Status);
        Assert.Equal(ResultStatuses.Succeeded, removeAgain.Status);
        Assert.Empty(RelayHarness.OutputOf(removeAgain, Ctx.Default.ContainersOutput).ContainerIds);
        Assert.Equal(ResultStatuses.Failed, logsGone.Status);
        Assert.Equal("replica web/r1/0 has no container on this node", logsGone.Error);
    }

    [Fact]
    public async Task Probe_Fails_WithinItsTimeout_WhenTheReplicaNeverListens()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v3", ct);
        var port = ProductProcess.FreePort();
        var replica = new ReplicaSelector("hang", "r1", 0);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v3", port, app: "hang"), Ctx.Default.RunReplicaBody, ct)).Status);

        var http = await relay.RunAsync(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Http, port, "/healthz", null, 500), Ctx.Default.ProbeBody, ct);

        Assert.Equal(ResultStatuses.Failed, http.Status);
        var output = RelayHarness.OutputOf(http, Ctx.Default.ProbeOutput);
        Assert.False(output.Healthy);
        Assert.Equal($"http://127.0.0.1:{port}/healthz", output.Target);
        Assert.True(output.ElapsedMs < 2000, $"the probe took {output.ElapsedMs} ms");
        Assert.StartsWith($"probe http http://127.0.0.1:{port}/healthz: ", http.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_AreRefusedAndReported_NotExecuted_WhenForgedForAnotherNodeExpiredReplayedOrMalformed()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct);
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var body = RelayHarness.SampleReplica("v1", ProductProcess.FreePort(), app: "forged");

        var forged = await relay.EnqueueAsync(relay.Sign(CommandKinds.RunReplica, body, Ctx.Default.RunReplicaBody, key: stranger), ct);
        var unknownKid = await relay.EnqueueAsync(relay.Sign(CommandKinds.RunReplica, body, Ctx.Default.RunReplicaBody, key: stranger, kid: "not-a-control-plane-key"), ct);
        var otherNode = await relay.EnqueueAsync(relay.Sign(CommandKinds.RunReplica, body, Ctx.Default.RunReplicaBody, nodeId: Guid.NewGuid()), ct);
        var expired = await relay.EnqueueAsync(relay.Sign(CommandKinds.RunReplica, body, Ctx.Default.RunReplicaBody, expiresAt: DateTimeOffset.UtcNow.AddMinutes(-2)), ct);
        var ping = relay.Sign(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.ResultAsync(await relay.EnqueueAsync(ping, ct), ct)).Status);
        await relay.EnqueueAsync(ping, ct);
        await relay.EnqueueAsync("this is not a command", ct);

        var forgedResult = await relay.ResultAsync(r => r.Status == ResultStatuses.Refused && r.Output is { } o
            && o.Deserialize(Ctx.Default.UnverifiedCommandOutput)!.ClaimedCommandId == forged.ToString(), ct);
        Assert.Equal(Guid.Empty, forgedResult.CommandId);
        Assert.Equal("the signature does not verify", forgedResult.Error);
        var unknownKidResult = await relay.ResultAsync(r => r.Status == ResultStatuses.Refused && r.Output is { } o
            && o.Deserialize(Ctx.Default.UnverifiedCommandOutput)!.ClaimedCommandId == unknownKid.ToString(), ct);
        Assert.Equal("the message is signed with an unknown key", unknownKidResult.Error);
        var otherNodeResult = await relay.ResultAsync(otherNode, ct);
        Assert.Equal(ResultStatuses.Refused, otherNodeResult.Status);
        Assert.StartsWith("the command is for node ", otherNodeResult.Error, StringComparison.Ordinal);
        var expiredResult = await relay.ResultAsync(expired, ct);
        Assert.Equal(ResultStatuses.Refused, expiredResult.Status);
        Assert.StartsWith("expired at ", expiredResult.Error, StringComparison.Ordinal);
        var replayed = await relay.ResultAsync(r => r.CommandId == RelayHarness.CommandIdOf(ping) && r.Status == ResultStatuses.Refused, ct);
        Assert.StartsWith("replayed: ", replayed.Error, StringComparison.Ordinal);
        var malformed = await relay.ResultAsync(r => r.Error == "the message is not a compact JWS", ct);
        Assert.Equal(Guid.Empty, malformed.CommandId);
        Assert.Empty(await relay.ContainersAsync(ct));
        Assert.True(relay.Process!.HasExited is false, relay.Output);
    }

    [Fact]
    public async Task RunReplica_IsRefused_WhenItAsksForMoreThanTheNodeAllows()
    {
        var ct = TestEnvironment.TimeCap();
        var allowed = Directory.CreateTempSubdirectory("a67-allowed-").FullName;
        try
        {
            var relay = await _scope.RelayAsync(ct, settings: s => s["Relay__AllowedHostPaths"] = allowed);
            File.CreateSymbolicLink(Path.Combine(allowed, "sneaky.sock"), "/var/run/docker.sock");
            var body = RelayHarness.SampleReplica("v1", ProductProcess.FreePort(), app: "greedy");

            var sysAdmin = await relay.RunAsync(CommandKinds.RunReplica, body with { CapAdd = ["SYS_ADMIN"] }, Ctx.Default.RunReplicaBody, ct);
            var socket = await relay.RunAsync(CommandKinds.RunReplica, body with { HostPaths = ["/var/run/docker.sock:/var/run/docker.sock"] }, Ctx.Default.RunReplicaBody, ct);
            var runFolder = await relay.RunAsync(CommandKinds.RunReplica, body with { HostPaths = ["/run:/host-run:ro"] }, Ctx.Default.RunReplicaBody, ct);
            var linked = await relay.RunAsync(CommandKinds.RunReplica, body with { HostPaths = [$"{allowed}/sneaky.sock:/docker.sock"] }, Ctx.Default.RunReplicaBody, ct);
            var etc = await relay.RunAsync(CommandKinds.RunReplica, body with { HostPaths = ["/etc:/host-etc:ro"] }, Ctx.Default.RunReplicaBody, ct);
            var network = await relay.RunAsync(CommandKinds.RunReplica, body with { NetworkMode = "container:other" }, Ctx.Default.RunReplicaBody, ct);

            Assert.All(new[] { sysAdmin, socket, runFolder, linked, etc, network }, r => Assert.Equal(ResultStatuses.Refused, r.Status));
            Assert.StartsWith("capability SYS_ADMIN is not allowed on this node", sysAdmin.Error, StringComparison.Ordinal);
            Assert.Equal("host path /var/run/docker.sock is never mounted: it is or holds the Docker socket, which would hand the container the whole host", socket.Error);
            Assert.StartsWith("host path /run is never mounted", runFolder.Error, StringComparison.Ordinal);
            Assert.StartsWith($"host path {allowed}/sneaky.sock is never mounted", linked.Error, StringComparison.Ordinal);
            Assert.StartsWith("host path /etc is not under an allowed folder", etc.Error, StringComparison.Ordinal);
            Assert.Equal("network mode 'container:other' is not allowed; use bridge, host or none", network.Error);
            Assert.Empty(await relay.ContainersAsync(ct));
        }
        finally
        {
            Directory.Delete(allowed, recursive: true);
        }
    }

    [Fact]
    public async Task RunReplica_Fails_NamingThePort_WhenTheHostPortIsTaken()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        using var holder = new TcpListener(IPAddress.Any, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var result = await relay.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v1", port, app: "clash"), Ctx.Default.RunReplicaBody, ct);

        Assert.Equal(ResultStatuses.Failed, result.Status);
        Assert.Equal($"host port {port}/tcp is already in use", result.Error);
        Assert.Empty(await relay.ContainersAsync(ct));
    }
}
