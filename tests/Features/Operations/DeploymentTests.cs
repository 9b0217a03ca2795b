using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// Deployments end to end on the real parts: the control plane places replicas over two relays on the Docker Engine,
/// pulls from the local registry, starts them, probes them until healthy, rolls to a new release without a moment
/// with no replica answering, and rolls back by itself when a release never becomes healthy.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DeploymentTests(DeploymentFixture fixture) : IClassFixture<DeploymentFixture>
{
    static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromSeconds(2) };

    ControlPlaneFixture ControlPlane => fixture.ControlPlane;

    string Token => fixture.Owner.AccessToken;

    [Fact]
    public async Task Deploy_SpreadsOverBothNodes_RollsToV2WithoutDowntime_ScalesAndRollsBackANeverHealthyRelease()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(180));
        var app = await CreateAppAsync("web", ct);

        // v1, three replicas over two nodes.
        var first = await DeployAsync(app, Spec("v1", 3), ct);
        Assert.Equal("Succeeded", (await FinishedAsync(first, ct)).GetProperty("status").GetString());
        var replicas = await ReplicasAsync(app, ct);
        Assert.Equal(3, replicas.Count);
        Assert.All(replicas, r => Assert.Equal("Healthy", r.GetProperty("state").GetString()));
        Assert.Equal(2, replicas.Select(r => r.GetProperty("nodeId").GetGuid()).Distinct().Count());
        foreach (var replica in replicas)
        {
            Assert.Contains("automator67 sample v1", await AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        // v2 while a client keeps asking: some replica answers every time.
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var poller = PollAsync(app, polling.Token);
        var second = await DeployAsync(app, Spec("v2", 3), ct);
        var rolled = await FinishedAsync(second, ct);
        await polling.CancelAsync();
        var (polls, unanswered) = await poller;
        Assert.Equal("Succeeded", rolled.GetProperty("status").GetString());
        Assert.True(polls > 5, $"only {polls} polls during the rollout");
        Assert.Equal(0, unanswered);
        replicas = await ReplicasAsync(app, ct);
        Assert.Equal(3, replicas.Count);
        foreach (var replica in replicas)
        {
            Assert.Equal(2, replica.GetProperty("release").GetInt32());
            Assert.Contains("automator67 sample v2", await AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        // Scale out and back in.
        Assert.Equal("Succeeded", (await FinishedAsync(await ScaleAsync(app, 5, ct), ct)).GetProperty("status").GetString());
        Assert.Equal(5, (await ReplicasAsync(app, ct)).Count(r => r.GetProperty("state").GetString() == "Healthy"));
        Assert.Equal("Succeeded", (await FinishedAsync(await ScaleAsync(app, 2, ct), ct)).GetProperty("status").GetString());
        Assert.Equal(2, (await ReplicasAsync(app, ct)).Count);

        // v3 never listens: the health step runs out of probes, and the operation rolls back to v2 by itself.
        var third = await DeployAsync(app, Spec("v3", 2), ct);
        var back = await FinishedAsync(third, ct);
        Assert.Equal("RolledBack", back.GetProperty("status").GetString());
        Assert.Contains("did not become healthy", back.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var history = back.GetProperty("history").EnumerateArray().ToList();
        Assert.Contains(history, h => h.GetProperty("type").GetString() == "rollback");
        Assert.Contains(history, h => h.GetProperty("type").GetString() == "retry-scheduled" || h.GetProperty("message").GetString()!.Contains("probe failed", StringComparison.Ordinal));
        replicas = await ReplicasAsync(app, ct);
        Assert.Equal(2, replicas.Count);
        foreach (var replica in replicas)
        {
            Assert.Equal(2, replica.GetProperty("release").GetInt32());
            Assert.Contains("automator67 sample v2", await AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        // The event feed tells the same story, newest first: two deploys and two scales succeeded, then the rollback.
        using (var feed = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/events?appId={app}", Token))
        {
            var events = (await feed.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("events").EnumerateArray().ToList();
            Assert.Equal(["deploy.rolled-back", "operation.succeeded", "operation.succeeded", "deploy.succeeded", "deploy.succeeded"],
                events.Select(e => e.GetProperty("type").GetString()));
            Assert.Equal(third, events[0].GetProperty("operationId").GetGuid());
            Assert.StartsWith("deploy of ", events[0].GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains("rolled back to release 2: ", events[0].GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal("warning", events[0].GetProperty("severity").GetString());
        }

        // Exactly the app's replicas run on the Engine: nothing of v1 or v3 is left.
        var containers = new List<Docker.DotNet.Models.ContainerListResponse>();
        foreach (var relay in fixture.Relays)
        {
            containers.AddRange(await relay.ContainersAsync(ct));
        }

        var appLabel = app.ToString("N");
        Assert.Equal(2, containers.Count(c => c.Labels["automator67.app"] == appLabel));
        Assert.All(containers.Where(c => c.Labels["automator67.app"] == appLabel), c => Assert.Equal("2", c.Labels["automator67.release"]));
    }

    [Fact]
    public async Task Deploy_RefusesBadSpecsImpossiblePlacementAndASecondActiveOperation()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var app = await CreateAppAsync("refusals", ct);

        using (var bad = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", Token, new
        {
            image = "Not An Image",
            replicas = -1,
            resources = new { memoryMiB = 4 },
            ports = new[] { new { containerPort = 70000 } },
        }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("errors");
            foreach (var field in new[] { "image", "replicas", "resources.memoryMiB", "ports[0].containerPort" })
            {
                Assert.True(errors.TryGetProperty(field, out _), $"no problem named {field}: {errors}");
            }
        }

        using (var nowhere = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", Token, Spec("v1", 1, constraints: ["region==mars"])))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, nowhere.StatusCode);
            Assert.Contains("region==mars", (await nowhere.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using (var huge = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", Token, Spec("v1", 1, memoryMiB: 1024 * 1024)))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, huge.StatusCode);
            Assert.Contains("memory", (await huge.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Nothing was stored for the refused requests.
        using (var releases = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}/releases", Token))
        {
            Assert.Equal(0, (await releases.Content.ReadFromJsonAsync<JsonElement>(ct)).GetArrayLength());
        }

        var running = await DeployAsync(app, Spec("v1", 1), ct);
        using (var second = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", Token, Spec("v2", 1)))
        {
            Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
            Assert.Equal(running, (await second.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("operationId").GetGuid());
        }

        // Cancelled before it finished (or finished first): either way the app ends consistent, and not on release 2.
        using (var cancel = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/operations/{running}/cancel", Token))
        {
            Assert.True(cancel.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.Conflict, $"{cancel.StatusCode}");
        }

        var done = await FinishedAsync(running, ct);
        Assert.True(done.GetProperty("status").GetString() is "Cancelled" or "Succeeded", $"{done}");
        var left = await ReplicasAsync(app, ct);
        Assert.Equal(done.GetProperty("status").GetString() == "Cancelled" ? 0 : 1, left.Count);
    }

    [Fact]
    public async Task Restart_Stop_Start_AndRemove_ActOnEveryReplica_AndRemoveLeavesNothingLabelled()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(120));
        var app = await CreateAppAsync("lifecycle", ct);
        Assert.Equal("Succeeded", (await FinishedAsync(await DeployAsync(app, Spec("v1", 2), ct), ct)).GetProperty("status").GetString());
        var before = (await ReplicasAsync(app, ct)).ToDictionary(r => r.GetProperty("id").GetGuid(), r => r.GetProperty("startedAt").GetDateTimeOffset());

        // Rolling restart: the same replicas (ids), each started again, all healthy at the end.
        var restart = await FinishedAsync(await ActAsync(app, "restart", ct), ct);
        Assert.Equal("Succeeded", restart.GetProperty("status").GetString());
        Assert.Equal(2, restart.GetProperty("attempts").GetProperty("restart").GetInt32());
        var after = await ReplicasAsync(app, ct);
        Assert.All(after, r =>
        {
            Assert.True(r.GetProperty("startedAt").GetDateTimeOffset() > before[r.GetProperty("id").GetGuid()], $"{r}");
            Assert.Equal("Healthy", r.GetProperty("state").GetString());
        });

        // Stop keeps the containers, stopped; start brings the same ones back.
        Assert.Equal("Succeeded", (await FinishedAsync(await ActAsync(app, "stop", ct), ct)).GetProperty("status").GetString());
        var stopped = await ReplicasAsync(app, ct);
        Assert.All(stopped, r => Assert.Equal("Stopped", r.GetProperty("state").GetString()));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => AnswerAsync(stopped[0], ct));
        Assert.Equal("Succeeded", (await FinishedAsync(await ActAsync(app, "start", ct), ct)).GetProperty("status").GetString());
        foreach (var replica in await ReplicasAsync(app, ct))
        {
            Assert.Contains("automator67 sample v1", await AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        // The app shows what it should run and what runs, per release and node; logs come through the relays.
        using (var view = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}", Token))
        {
            var runtime = (await view.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("runtime");
            Assert.Equal(1, runtime.GetProperty("currentRelease").GetInt32());
            Assert.Equal(2, runtime.GetProperty("desiredReplicas").GetInt32());
            var release = Assert.Single(runtime.GetProperty("releases").EnumerateArray());
            Assert.Equal(2, release.GetProperty("healthy").GetInt32());
            Assert.Equal(2, release.GetProperty("nodes").EnumerateArray().Sum(n => n.GetProperty("running").GetInt32()));
        }

        using (var logs = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}/logs?tail=5", Token))
        {
            Assert.Equal(HttpStatusCode.OK, logs.StatusCode);
            var entries = (await logs.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray().ToList();
            Assert.Equal(2, entries.Count);
            Assert.All(entries, e => Assert.Equal(JsonValueKind.Null, e.GetProperty("error").ValueKind));
        }

        using (var badTail = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}/logs?tail=0", Token))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badTail.StatusCode);
        }

        // Remove: every container goes, then the app; its operations stay readable.
        using var delete = await ControlPlane.SendAsync(HttpMethod.Delete, $"/api/apps/{app}", Token);
        Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
        var removal = (await delete.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
        var remove = await FinishedAsync(removal, ct);
        Assert.Equal("Succeeded", remove.GetProperty("status").GetString());
        // Audited twice: who asked (with the operation), and when the app went.
        foreach (var type in new[] { "app.removal-requested", "app.deleted" })
        {
            using var audit = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/audit?type={type}", Token);
            var events = (await audit.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("events").EnumerateArray().ToList();
            Assert.Contains(events, e => e.GetProperty("detail").GetProperty("appId").GetGuid() == app
                && e.GetProperty("detail").GetProperty("operationId").GetGuid() == removal);
        }

        using var gone = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}", Token);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var appLabel = app.ToString("N");
        foreach (var relay in fixture.Relays)
        {
            Assert.DoesNotContain(await relay.ContainersAsync(ct), c => c.Labels["automator67.app"] == appLabel);
        }
    }

    async Task<Guid> ActAsync(Guid app, string action, CancellationToken ct)
    {
        using var response = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/{action}", Token);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(ct));
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    static object Spec(string tag, int replicas, string[]? constraints = null, int memoryMiB = 32) => new
    {
        image = $"{TestEnvironment.SampleImage}:{tag}",
        replicas,
        env = new Dictionary<string, string> { ["PORT"] = "8080" },
        ports = new[] { new { containerPort = 8080 } },
        resources = new { memoryMiB },
        healthCheck = new { kind = "http", port = 8080, path = "/healthz", intervalSeconds = 1, timeoutSeconds = 1, retries = 3 },
        restartPolicy = new { name = "no" },
        constraints = constraints ?? [],
        rollout = new { maxSurge = 1, maxUnavailable = 0 },
    };

    async Task<Guid> CreateAppAsync(string name, CancellationToken ct)
    {
        using var response = await ControlPlane.SendAsync(HttpMethod.Post, "/api/apps", Token, new { name = $"{name}-{Guid.NewGuid():N}"[..20] });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    async Task<Guid> DeployAsync(Guid app, object spec, CancellationToken ct)
    {
        using var response = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", Token, spec);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(ct));
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    async Task<Guid> ScaleAsync(Guid app, int replicas, CancellationToken ct)
    {
        using var response = await ControlPlane.SendAsync(HttpMethod.Post, $"/api/apps/{app}/scale", Token, new { replicas });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(ct));
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    async Task<JsonElement> FinishedAsync(Guid operation, CancellationToken ct)
    {
        while (true)
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/operations/{operation}", Token);
            var view = await response.Content.ReadFromJsonAsync<JsonElement>(CancellationToken.None);
            if (view.GetProperty("status").GetString() is not ("Pending" or "Running" or "RollingBack"))
            {
                return view;
            }

            if (ct.IsCancellationRequested)
            {
                Assert.Fail($"operation {operation} did not finish: {view}\n{ControlPlane.Output[^Math.Min(4000, ControlPlane.Output.Length)..]}");
            }

            await Task.Delay(200, CancellationToken.None);
        }
    }

    async Task<List<JsonElement>> ReplicasAsync(Guid app, CancellationToken ct)
    {
        using var response = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{app}/replicas", Token);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray()];
    }

    static async Task<string> AnswerAsync(JsonElement replica, CancellationToken ct)
    {
        var port = replica.GetProperty("ports").EnumerateArray().First().GetProperty("hostPort").GetInt32();
        return await Probe.GetStringAsync($"http://127.0.0.1:{port}/", ct);
    }

    // Every 100 ms: is there a replica the API calls Healthy that answers? Counts the polls where none did.
    async Task<(int Polls, int Unanswered)> PollAsync(Guid app, CancellationToken ct)
    {
        var (polls, unanswered) = (0, 0);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var healthy = (await ReplicasAsync(app, ct)).Where(r => r.GetProperty("state").GetString() == "Healthy").ToList();
                var answered = false;
                foreach (var replica in healthy)
                {
                    try
                    {
                        answered = (await AnswerAsync(replica, ct)).Contains("automator67 sample", StringComparison.Ordinal);
                    }
                    catch (HttpRequestException)
                    {
                    }

                    if (answered)
                    {
                        break;
                    }
                }

                polls++;
                unanswered += answered ? 0 : 1;
                await Task.Delay(100, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return (polls, unanswered);
    }
}
