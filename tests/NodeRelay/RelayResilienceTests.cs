using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Ctx = Automator67.Contracts.Relay.RelayJsonContext;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// The relay under what goes wrong in the field: killed mid-command, stopped with SIGTERM, Azurite or the Docker
/// Engine away for a while, another relay on the same Engine; and its heartbeats.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RelayResilienceTests(RelayRunFixture fixture) : IClassFixture<RelayRunFixture>, IAsyncDisposable
{
    readonly RelayScope _scope = new(fixture);

    public ValueTask DisposeAsync() => _scope.DisposeAsync();

    [Fact]
    public async Task RunReplica_MakesExactlyOneContainer_WhenTheRelayIsKilledMidCommandAndStartedAgain()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var relay = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        var port = ProductProcess.FreePort();

        var commandId = await relay.EnqueueAsync(relay.Sign(CommandKinds.RunReplica, RelayHarness.SampleReplica("v1", port, app: "crash"), Ctx.Default.RunReplicaBody), ct);
        // Kill it as soon as the container exists: the command ran, but no result was sent and the message not deleted.
        await RelayScope.WaitUntilAsync(async () => (await relay.ContainersAsync(ct)).Count > 0, ct);
        await relay.KillAsync();
        // Killed before the answer: the message is still in the queue (invisible until its lease runs out).
        Assert.Equal(1, (await relay.CommandQueue.GetPropertiesAsync(ct)).Value.ApproximateMessagesCount);
        Assert.Empty(relay.ResultsSeen(r => r.CommandId == commandId));
        await relay.StartAsync(ct);

        var result = await relay.ResultAsync(commandId, ct);
        Assert.True(result.Status == ResultStatuses.Succeeded, result.Error);
        Assert.Contains("automator67 sample v1", await RelayScope.AnswerAsync(port, ct), StringComparison.Ordinal);
        var only = Assert.Single(await relay.ContainersAsync(ct));
        Assert.Equal(RelayHarness.OutputOf(result, Ctx.Default.RunReplicaOutput).ContainerId, only.ID);
        await RelayScope.WaitUntilAsync(async () => (await relay.CommandQueue.GetPropertiesAsync(ct)).Value.ApproximateMessagesCount == 0, ct);
    }

    [Fact]
    public async Task Sigterm_AbandonsTheRunningCommand_ForRedelivery_AndExits0()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var relay = await _scope.RelayAsync(ct, start: false, settings: s => s["Relay__ShutdownGrace"] = "00:00:01");
        await relay.StartAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v3", ct);
        var replica = new ReplicaSelector("slow", "r1", 0);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v3", ProductProcess.FreePort(), app: "slow"), Ctx.Default.RunReplicaBody, ct)).Status);

        // An exec probe that takes 4 s: still running when SIGTERM comes, past the 1 s grace.
        var slow = await relay.EnqueueAsync(relay.Sign(CommandKinds.Probe, new ProbeBody(replica, ProbeKinds.Exec, null, null, ["sleep", "4"], 20_000), Ctx.Default.ProbeBody), ct);
        await RelayScope.WaitUntilAsync(async () => (await relay.CommandQueue.GetPropertiesAsync(ct)).Value.ApproximateMessagesCount == 1 && relay.Output.Contains("Command loop", StringComparison.Ordinal), ct);
        await Task.Delay(500, ct);
        var stopping = Stopwatch.StartNew();
        relay.Process!.Terminate();

        Assert.Equal(0, await relay.Process.WaitForExitAsync(ct));
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(4), $"SIGTERM took {stopping.Elapsed}");
        Assert.Contains("abandoned at shutdown", relay.Output, StringComparison.Ordinal);
        Assert.Empty(relay.ResultsSeen(r => r.CommandId == slow));
        // Started again, the relay gets the same message back and answers it.
        await relay.StartAsync(ct);
        var result = await relay.ResultAsync(slow, ct);
        Assert.True(result.Status == ResultStatuses.Succeeded, result.Error);
    }

    [Fact]
    public async Task Heartbeats_CarryTheFacts_AndTheInventoryWithStats_OfTheNodesContainers()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var relay = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        var port = ProductProcess.FreePort();
        var run = await relay.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v1", port, app: "beat"), Ctx.Default.RunReplicaBody, ct);
        var id = RelayHarness.OutputOf(run, Ctx.Default.RunReplicaOutput).ContainerId;

        var heartbeat = await relay.HeartbeatAsync(h => h.Containers.Any(c => c.Id == id && c.Stats is not null), ct);

        Assert.Equal((await fixture.Docker.Client.System.GetVersionAsync(ct)).Version, heartbeat.Facts.DockerVersion);
        Assert.Equal((1, 1), (heartbeat.Part, heartbeat.Parts));
        var report = Assert.Single(heartbeat.Containers);
        Assert.Equal(("beat", "r1", 0, 1L, "running"), (report.App, report.Release, report.Replica, report.Generation!.Value, report.State));
        Assert.NotNull(report.StartedAt);
        Assert.Equal(64 * 1024 * 1024, report.Stats!.MemoryLimitBytes);
        Assert.True(report.Stats.MemoryUsedBytes > 0);
    }

    [Fact]
    public async Task TwoRelays_OnOneEngine_NeverTouchEachOthersContainers()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var one = await _scope.RelayAsync(ct);
        var two = await _scope.RelayAsync(ct);
        await fixture.Docker.PullAsync($"{TestEnvironment.SampleImage}:v1", ct);
        var (portOne, portTwo) = (ProductProcess.FreePort(), ProductProcess.FreePort());
        // The same app, release, replica and generation on both nodes.
        var madeOne = await one.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v1", portOne, app: "shared"), Ctx.Default.RunReplicaBody, ct);
        var madeTwo = await two.RunAsync(CommandKinds.RunReplica, RelayHarness.SampleReplica("v1", portTwo, app: "shared"), Ctx.Default.RunReplicaBody, ct);
        Assert.True(madeOne.Status == ResultStatuses.Succeeded, madeOne.Error);
        Assert.True(madeTwo.Status == ResultStatuses.Succeeded, madeTwo.Error);
        Assert.True(RelayHarness.OutputOf(madeTwo, Ctx.Default.RunReplicaOutput).Created);
        var replica = new ReplicaSelector("shared", "r1", 0);

        var inspected = await one.RunAsync(CommandKinds.Inspect, new ReplicaBody(replica), Ctx.Default.ReplicaBody, ct);
        var removed = await one.RunAsync(CommandKinds.Remove, new RemoveBody(replica), Ctx.Default.RemoveBody, ct);
        var heartbeat = await two.HeartbeatAsync(h => h.Containers.Count > 0, ct);

        Assert.Equal(RelayHarness.OutputOf(madeOne, Ctx.Default.RunReplicaOutput).ContainerId, Assert.Single(RelayHarness.OutputOf(inspected, Ctx.Default.InspectOutput).Containers).Id);
        Assert.Equal([RelayHarness.OutputOf(madeOne, Ctx.Default.RunReplicaOutput).ContainerId], RelayHarness.OutputOf(removed, Ctx.Default.ContainersOutput).ContainerIds);
        Assert.Empty(await one.ContainersAsync(ct));
        Assert.Single(await two.ContainersAsync(ct));
        Assert.Contains("automator67 sample v1", await RelayScope.AnswerAsync(portTwo, ct), StringComparison.Ordinal);
        Assert.Equal(RelayHarness.OutputOf(madeTwo, Ctx.Default.RunReplicaOutput).ContainerId, Assert.Single(heartbeat.Containers).Id);
    }

    [Fact]
    public async Task Relay_KeepsRunning_WhileTheQueueServiceIsDown_AndAnswersWhatWaited()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var relay = await _scope.RelayAsync(ct, start: false);
        var port = ProductProcess.FreePort();
        var azurite = relay.RouteQueuesThrough(port);
        await using var proxy = new SocketProxy(new IPEndPoint(IPAddress.Loopback, port), new IPEndPoint(IPAddress.Loopback, azurite));
        proxy.Start();
        await relay.StartAsync(ct);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct)).Status);

        proxy.Stop();
        var waiting = await relay.EnqueueAsync(relay.Sign(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString), ct);
        await RelayScope.WaitUntilAsync(() => Task.FromResult(relay.Output.Contains("Could not receive commands (attempt 2)", StringComparison.Ordinal)), ct);
        Assert.False(relay.Process!.HasExited);
        proxy.Start();

        var result = await relay.ResultAsync(waiting, ct);
        Assert.Equal(ResultStatuses.Succeeded, result.Status);
        Assert.False(relay.Process.HasExited);
    }

    [Fact]
    public async Task Commands_FailWithAClearReason_WhileTheDockerEngineIsDown_AndSucceedOnceItIsBack()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var socket = Path.Combine(Path.GetTempPath(), $"a67-docker-{TestEnvironment.RunId}-{Guid.NewGuid():N}.sock");
        var relay = await _scope.RelayAsync(ct, start: false, settings: s => s["Relay__DockerEndpoint"] = $"unix://{socket}");
        await using var proxy = new SocketProxy(new UnixDomainSocketEndPoint(socket), new UnixDomainSocketEndPoint(new Uri(TestEnvironment.DockerEndpoint).LocalPath));
        proxy.Start();
        await relay.StartAsync(ct);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct)).Status);

        proxy.Stop();
        var down = await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct);
        proxy.Start();
        var back = await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct);

        Assert.Equal(ResultStatuses.Failed, down.Status);
        Assert.StartsWith($"the Docker Engine at unix://{socket} did not answer", down.Error, StringComparison.Ordinal);
        Assert.Equal(ResultStatuses.Succeeded, back.Status);
        Assert.False(relay.Process!.HasExited);
        File.Delete(socket);
    }
}
