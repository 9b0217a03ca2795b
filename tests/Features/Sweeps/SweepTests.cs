using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Features.Operations;
using Automator67.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace Automator67.Tests.Features.Sweeps;

/// <summary>
/// The health and reconcile sweeps on the real parts: a relay stopped until its node is Lost and started again, a
/// replica killed with the Engine, a release that crash-loops, containers made by hand with and without our labels,
/// and a second control-plane process sharing the ticks.
/// </summary>
[Collection(SweepGroup.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SweepTests(SweepFixture fixture)
{
    static readonly string[] CrashingCommand = ["/bin/sh", "-c", "sleep 1; exit 3"];

    DeploymentFixture Deployment => fixture.Deployment;

    [Fact]
    public async Task StoppedRelay_NodeGoesUnreachableThenLost_ItsReplicasRunElsewhere_AndWhenItReturnsItsStaleContainersAreFenced()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(150));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("lost", ct);
        await api.DeployedAsync(app, OperationsClient.Spec("v1", 2), () => fixture.ControlPlane.Output, ct);
        var before = await api.ReplicasAsync(app, ct);
        var gone = Deployment.Relays.First(r => before.Any(x => x.GetProperty("nodeId").GetGuid() == r.NodeId));
        var stranded = before.Where(r => r.GetProperty("nodeId").GetGuid() == gone.NodeId).ToList();
        Assert.NotEmpty(stranded);

        await gone.KillAsync();
        await NodeStatusAsync(gone.NodeId, "Unreachable", ct);
        await NodeStatusAsync(gone.NodeId, "Lost", ct);

        // Every replica healthy again, none on the lost node, each answering.
        var after = await api.ReplicasWhenAsync(app, rs => rs.Count(r => r.GetProperty("state").GetString() == "Healthy") == 2, ct);
        var healthy = after.Where(r => r.GetProperty("state").GetString() == "Healthy").ToList();
        Assert.All(healthy, r => Assert.NotEqual(gone.NodeId, r.GetProperty("nodeId").GetGuid()));
        foreach (var replica in healthy)
        {
            Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        var events = await EventsAsync($"nodeId={gone.NodeId}", ct);
        Assert.Contains(events, e => e.Type == "node.unreachable");
        Assert.Contains(events, e => e.Type == "node.lost");
        Assert.Equal(stranded.Count, events.Count(e => e.Type == "replica.rescheduled"));
        var heal = Assert.Single(await OperationsOfAsync(app, ct), o => o.GetProperty("kind").GetString() == "heal");
        Assert.Equal("Succeeded", (await api.FinishedAsync(heal.GetProperty("id").GetGuid(), () => fixture.ControlPlane.Output, ct)).GetProperty("status").GetString());

        // The stale containers still run on the stopped node's Engine: when it comes back, they are fenced.
        Assert.Contains(await gone.ContainersAsync(ct), c => c.Labels[ContainerLabels.App] == app.ToString("N") && c.State == "running");
        await gone.StartAsync(ct);
        await NodeStatusAsync(gone.NodeId, "Ready", ct);
        await Poll.UntilAsync(() => gone.ContainersAsync(ct), cs => !cs.Any(c => c.Labels[ContainerLabels.App] == app.ToString("N")), TimeSpan.FromMilliseconds(200), ct);

        var containers = await Deployment.Docker.ContainersOfAppAsync(app, ct);
        Assert.Equal(2, containers.Count);
        Assert.Equal(2, containers.Select(c => c.Labels[ContainerLabels.Replica]).Distinct().Count());
        Assert.All(containers, c => Assert.NotEqual(gone.NodeId.ToString(), c.Labels[ContainerLabels.Node]));
        events = await EventsAsync($"nodeId={gone.NodeId}", ct);
        Assert.Contains(events, e => e.Type == "node.back");
        Assert.Contains(events, e => e.Type == "node.fenced");
        await RemoveAsync(app, ct);
    }

    [Fact]
    public async Task KilledReplica_IsRestartedByTheReconcileSweep()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("killed", ct);
        await api.DeployedAsync(app, OperationsClient.Spec("v1", 1), () => fixture.ControlPlane.Output, ct);
        var container = Assert.Single(await Deployment.Docker.ContainersOfAppAsync(app, ct));
        var started = (await Deployment.Docker.Client.Containers.InspectContainerAsync(container.ID, ct)).State!.StartedAt;

        await Deployment.Docker.Client.Containers.KillContainerAsync(container.ID, new ContainerKillParameters(), ct);
        var restarted = await EventsWhenAsync($"appId={app}&type=replica.restarted", e => e.Count > 0, ct);
        Assert.Contains("restarted after a back-off", restarted[0].Message, StringComparison.Ordinal);
        var crashed = Assert.Single(await EventsAsync($"appId={app}&type=replica.crashed", ct));
        Assert.Contains("exited (code 137)", crashed.Message, StringComparison.Ordinal);

        var inspect = await Poll.UntilAsync(() => Deployment.Docker.Client.Containers.InspectContainerAsync(container.ID, ct),
            i => i.State!.Running && i.State.StartedAt != started, TimeSpan.FromMilliseconds(200), ct);

        // Its automatic host port may have changed with the restart: the replica says where it is now.
        var port = ReplicaContainersPort(inspect);
        var replica = Assert.Single(await api.ReplicasWhenAsync(app, rs => rs.Count == 1 && rs[0].GetProperty("ports")[0].GetProperty("hostPort").GetInt32() == port, ct));
        Assert.Equal(1, replica.GetProperty("crashes").GetInt32());
        await WaitAnswerAsync(replica, ct);
        await RemoveAsync(app, ct);
    }

    [Fact]
    public async Task AppShortOfReplicas_WithNothingUnderWay_IsHealed()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("short", ct);
        await api.DeployedAsync(app, OperationsClient.Spec("v1", 2), () => fixture.ControlPlane.Output, ct);

        // What a heal that found no room leaves: a replica marked Failed, its container gone.
        var victim = (await api.ReplicasAsync(app, ct))[0];
        await using (var fail = fixture.ControlPlane.Database.DataSource.CreateCommand("UPDATE a67.replicas SET state = 'Failed' WHERE id = @id"))
        {
            fail.Parameters.AddWithValue("id", victim.GetProperty("id").GetGuid());
            await fail.ExecuteNonQueryAsync(ct);
        }

        await Deployment.Docker.Client.Containers.RemoveContainerAsync(victim.GetProperty("containerId").GetString()!, new ContainerRemoveParameters { Force = true }, ct);
        var replicas = await api.ReplicasWhenAsync(app, rs => rs.Count(r => r.GetProperty("state").GetString() == "Healthy") == 2, ct);
        var heal = Assert.Single(await OperationsOfAsync(app, ct), o => o.GetProperty("kind").GetString() == "heal");
        Assert.Equal("Succeeded", (await api.FinishedAsync(heal.GetProperty("id").GetGuid(), () => fixture.ControlPlane.Output, ct)).GetProperty("status").GetString());
        foreach (var replica in replicas.Where(r => r.GetProperty("state").GetString() == "Healthy"))
        {
            Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        await RemoveAsync(app, ct);
    }

    [Fact]
    public async Task CrashLoopingRelease_IsMarkedAndAlerted_AndNotRestartedForever()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("looping", ct);
        var rule = await CreateRuleAsync(new { name = $"loop-{app:N}"[..20], kind = "crash-loop", appId = app }, ct);
        await api.DeployedAsync(app, new
        {
            image = $"{TestEnvironment.SampleImage}:v1",
            replicas = 1,
            command = CrashingCommand,
            resources = new { memoryMiB = 16 },
            restartPolicy = new { name = "no" },
        }, () => fixture.ControlPlane.Output, ct);

        var looping = Assert.Single(await EventsWhenAsync($"appId={app}&type=replica.crash-looping", e => e.Count > 0, ct));
        Assert.Equal("critical", looping.Severity);
        Assert.Contains("3 crashes", looping.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await EventsAsync($"appId={app}&type=replica.restarted", ct)).Count);
        var replica = Assert.Single(await api.ReplicasAsync(app, ct));
        Assert.NotEqual(JsonValueKind.Null, replica.GetProperty("crashLoopingAt").ValueKind);
        Assert.StartsWith("crash-looping", replica.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        var alert = await AlertWhenAsync(rule, "firing", ct);
        Assert.Equal(app, alert.GetProperty("subject").GetProperty("id").GetGuid());

        // Marked: several sweeps later it has not been started again.
        var container = Assert.Single(await Deployment.Docker.ContainersOfAppAsync(app, ct));
        var startedAt = (await Deployment.Docker.Client.Containers.InspectContainerAsync(container.ID, ct)).State!.StartedAt;
        await Task.Delay(TimeSpan.FromSeconds(8), ct);
        var inspect = await Deployment.Docker.Client.Containers.InspectContainerAsync(container.ID, ct);
        Assert.False(inspect.State!.Running);
        Assert.Equal(startedAt, inspect.State.StartedAt);
        Assert.Equal(2, (await EventsAsync($"appId={app}&type=replica.restarted", ct)).Count);
        await RemoveAsync(app, ct);
    }

    [Fact]
    public async Task MoreThanHalfTheNodesSilentAtOnce_NothingIsDeclaredLost_ReschedulingPauses_AndNodeOfflineAlertsFire()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var rule = await CreateRuleAsync(new { name = $"offline-{Guid.NewGuid():N}"[..20], kind = "node-offline" }, ct);
        var pausedBefore = (await EventsAsync("type=rescheduling.paused", ct)).Count;
        var since = Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O"));
        foreach (var relay in Deployment.Relays)
        {
            await relay.KillAsync();
        }

        try
        {
            foreach (var relay in Deployment.Relays)
            {
                await NodeStatusAsync(relay.NodeId, "Unreachable", ct);
            }

            // Well past the 12 s grace: both are still only Unreachable, and the pause was said once.
            var paused = await EventsWhenAsync("type=rescheduling.paused", e => e.Count > pausedBefore, ct);
            Assert.Equal("critical", paused[0].Severity);
            Assert.Contains("2 of 2 nodes went silent at once", paused[0].Message, StringComparison.Ordinal);
            await Task.Delay(TimeSpan.FromSeconds(16), ct);
            foreach (var relay in Deployment.Relays)
            {
                using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Get, $"/api/nodes/{relay.NodeId}", Deployment.Owner.AccessToken);
                Assert.Equal("Unreachable", (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("status").GetString());
                Assert.Empty(await EventsAsync($"nodeId={relay.NodeId}&type=node.lost&from={since}", ct));
            }

            Assert.Equal(pausedBefore + 1, (await EventsAsync("type=rescheduling.paused", ct)).Count);
            var alerts = await AlertsOfAsync(rule, ct);
            Assert.Equal(Deployment.Relays.Select(r => r.NodeId).Order(), alerts.Where(a => a.GetProperty("status").GetString() == "firing")
                .Select(a => a.GetProperty("subject").GetProperty("id").GetGuid()).Order());
        }
        finally
        {
            // Whatever happened above, the next test gets its two Ready nodes back.
            using var back = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var relay in Deployment.Relays)
            {
                await relay.StartAsync(back.Token);
            }

            foreach (var relay in Deployment.Relays)
            {
                await NodeStatusAsync(relay.NodeId, "Ready", back.Token);
            }
        }

        // Heard again: the alerts resolve by themselves.
        await Poll.UntilAsync(() => AlertsOfAsync(rule, ct), alerts => alerts.TrueForAll(a => a.GetProperty("status").GetString() == "resolved"), TimeSpan.FromMilliseconds(250), ct);
    }

    [Fact]
    public async Task LabelledContainerMadeByHand_IsRemovedAfterGrace_AndAnUnlabelledOneIsNeverTouched()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var node = Deployment.Relays[0].NodeId;
        var foreignApp = Guid.NewGuid().ToString("N");
        var labelled = await RunByHandAsync(new Dictionary<string, string> { [ContainerLabels.App] = foreignApp, [ContainerLabels.Node] = node.ToString() }, ct);
        var unlabelled = await RunByHandAsync([], ct);

        var removed = Assert.Single(await EventsWhenAsync($"nodeId={node}&type=container.orphan-removed", e => e.Any(x => x.Message.Contains(foreignApp, StringComparison.Ordinal)), ct),
            e => e.Message.Contains(foreignApp, StringComparison.Ordinal));
        Assert.Contains("removed after 6 s", removed.Message, StringComparison.Ordinal);
        await Poll.UntilAsync(() => ExistsAsync(labelled, ct), exists => !exists, TimeSpan.FromMilliseconds(200), ct);

        // The unlabelled one ran through the same sweeps (and more) and is still running.
        await Task.Delay(TimeSpan.FromSeconds(4), ct);
        Assert.True((await Deployment.Docker.Client.Containers.InspectContainerAsync(unlabelled, ct)).State!.Running);
        await Deployment.Docker.Client.Containers.RemoveContainerAsync(unlabelled, new ContainerRemoveParameters { Force = true }, ct);
    }

    [Fact]
    public async Task TwoControlPlaneProcesses_RunEachSweepOncePerTick()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        await using var second = await ControlPlaneProcess.StartAsync(fixture.ControlPlane, Deployment.Owner.AccessToken, ct);
        var from = DateTimeOffset.UtcNow.AddSeconds(2);
        await Task.Delay(TimeSpan.FromSeconds(22), ct);
        var to = DateTimeOffset.UtcNow.AddSeconds(-2);
        await using var command = fixture.ControlPlane.Database.DataSource.CreateCommand("""
            SELECT sweep, count(*), count(DISTINCT process) FROM a67.sweep_runs WHERE started_at >= @from AND started_at < @to GROUP BY sweep
            """);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        var runs = new Dictionary<string, long>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                runs[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        // Ticks every 2 s over the window: about one run per tick, never one per tick per process.
        var ticks = (to - from).TotalSeconds / 2;
        foreach (var sweep in new[] { "health", "reconcile" })
        {
            Assert.True(runs.TryGetValue(sweep, out var count), $"no {sweep} run between {from:O} and {to:O}");
            Assert.InRange(count, (long)(ticks * 0.6), (long)Math.Ceiling(ticks) + 1);
        }
    }

    async Task<string> RunByHandAsync(Dictionary<string, string> labels, CancellationToken ct)
    {
        labels[Infrastructure.DockerFixture.RunLabel] = TestEnvironment.RunId;
        labels[Infrastructure.DockerFixture.FixtureLabel] = Deployment.Docker.FixtureId;
        var created = await Deployment.Docker.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = $"{TestEnvironment.SampleImage}:v1",
            Entrypoint = ["/bin/sh", "-c", "sleep 300"],
            Labels = labels,
            HostConfig = new HostConfig { NetworkMode = "none" },
        }, ct);
        await Deployment.Docker.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct);
        return created.ID;
    }

    async Task<bool> ExistsAsync(string id, CancellationToken ct)
    {
        try
        {
            await Deployment.Docker.Client.Containers.InspectContainerAsync(id, ct);
            return true;
        }
        catch (Docker.DotNet.DockerContainerNotFoundException)
        {
            return false;
        }
    }

    async Task NodeStatusAsync(Guid node, string status, CancellationToken ct) =>
        await Poll.UntilAsync(async () =>
        {
            using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Get, $"/api/nodes/{node}", Deployment.Owner.AccessToken);
            return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("status").GetString();
        }, now => now == status, TimeSpan.FromMilliseconds(250), ct);

    sealed record FeedEvent(string Type, string Severity, string Message);

    async Task<List<FeedEvent>> EventsAsync(string query, CancellationToken ct)
    {
        using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Get, $"/api/events?{query}", Deployment.Owner.AccessToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("events").EnumerateArray()
            .Select(e => new FeedEvent(e.GetProperty("type").GetString()!, e.GetProperty("severity").GetString()!, e.GetProperty("message").GetString()!))];
    }

    Task<List<FeedEvent>> EventsWhenAsync(string query, Func<List<FeedEvent>, bool> done, CancellationToken ct) =>
        Poll.UntilAsync(() => EventsAsync(query, ct), done, TimeSpan.FromMilliseconds(250), ct);

    async Task<Guid> CreateRuleAsync(object rule, CancellationToken ct)
    {
        using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Post, "/api/alert-rules", Deployment.Owner.AccessToken, rule);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(ct));
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    async Task<List<JsonElement>> AlertsOfAsync(Guid rule, CancellationToken ct)
    {
        using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Get, $"/api/alerts?ruleId={rule}", Deployment.Owner.AccessToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("alerts").EnumerateArray()];
    }

    async Task<JsonElement> AlertWhenAsync(Guid rule, string status, CancellationToken ct) =>
        (await Poll.UntilAsync(() => AlertsOfAsync(rule, ct), alerts => alerts.Exists(a => a.GetProperty("status").GetString() == status), TimeSpan.FromMilliseconds(250), ct))
            .First(a => a.GetProperty("status").GetString() == status);

    async Task<List<JsonElement>> OperationsOfAsync(Guid app, CancellationToken ct)
    {
        using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}/operations", Deployment.Owner.AccessToken);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray()];
    }

    async Task RemoveAsync(Guid app, CancellationToken ct)
    {
        using var response = await fixture.ControlPlane.SendAsync(HttpMethod.Delete, $"/api/apps/{app}", Deployment.Owner.AccessToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var removal = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
        Assert.Equal("Succeeded", (await fixture.Client.FinishedAsync(removal, () => fixture.ControlPlane.Output, ct)).GetProperty("status").GetString());
    }

    static int ReplicaContainersPort(ContainerInspectResponse inspect) =>
        int.Parse(inspect.NetworkSettings!.Ports["8080/tcp"].First(b => !b.HostIP.Contains(':', StringComparison.Ordinal)).HostPort, System.Globalization.CultureInfo.InvariantCulture);

    static async Task WaitAnswerAsync(JsonElement replica, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
                return;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200, ct);
            }
        }
    }
}
