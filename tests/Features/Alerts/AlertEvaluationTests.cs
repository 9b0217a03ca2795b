using System.Net;
using System.Text.Json;
using Automator67.Functions.Features.Events;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Alerts;

/// <summary>
/// Rules firing and resolving from the event feed (written with the product's <see cref="EventLog"/>, as the sweeps
/// will) and from container stats, and webhooks receiving them signed, with a retry after a 500.
/// </summary>
public sealed class AlertEvaluationTests(AlertsControlPlane fixture) : IClassFixture<AlertsControlPlane>
{
    static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    static JsonElement[] Alerts(JsonElement page) => [.. page.GetProperty("alerts").EnumerateArray()];

    [Fact]
    public async Task NodeOffline_IsDeliveredSigned_RetriedAfterA500_AndResolvedWhenTheNodeIsBack()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answers.Enqueue(500);
        var owner = await fixture.Cp.SignUpAsync();
        var webhook = await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "pager", url = receiver.Url }, HttpStatusCode.Created, ct);
        var secret = webhook.GetProperty("secret").GetString()!;
        var webhookId = webhook.GetProperty("id").GetGuid();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var rule = await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken,
            new { name = "nodes", kind = "node-offline", webhookIds = new[] { webhookId } }, HttpStatusCode.Created, ct);
        var node = Guid.NewGuid();

        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.NodeUnreachable, EventSeverities.Warning,
            "node n1 is unreachable: no heartbeat for 30 s", NodeId: node), ct);

        // The first attempt is answered 500, the retry 200: the same delivery twice, each signed for its own timestamp.
        var first = await receiver.NextAsync(ct);
        var second = await receiver.NextAsync(ct);
        Assert.Equal((500, 200), (first.Answered, second.Answered));
        Assert.True(WebhookReceiver.SignatureHolds(first, secret, Tolerance), $"bad signature {first.Signature} for {first.Body}");
        Assert.True(WebhookReceiver.SignatureHolds(second, secret, Tolerance), $"bad signature {second.Signature} for {second.Body}");
        Assert.False(WebhookReceiver.SignatureHolds(second with { Body = second.Body.Replace("n1", "n2", StringComparison.Ordinal) }, secret, Tolerance));
        Assert.Equal(first.DeliveryId, second.DeliveryId);
        Assert.Equal(first.Body, second.Body);

        using var body = JsonDocument.Parse(second.Body);
        var payload = body.RootElement;
        Assert.Equal(second.DeliveryId, payload.GetProperty("id").GetString());
        Assert.Equal("firing", payload.GetProperty("status").GetString());
        Assert.Equal("alert.firing", payload.GetProperty("type").GetString());
        Assert.Equal("node", payload.GetProperty("subject").GetProperty("type").GetString());
        Assert.Equal(node, payload.GetProperty("subject").GetProperty("id").GetGuid());
        Assert.Equal("node n1 is unreachable: no heartbeat for 30 s", payload.GetProperty("message").GetString());
        Assert.Equal(rule.GetProperty("id").GetGuid(), payload.GetProperty("rule").GetProperty("id").GetGuid());
        Assert.Equal("node-offline", payload.GetProperty("rule").GetProperty("kind").GetString());
        var alertId = payload.GetProperty("alert").GetProperty("id").GetGuid();

        // The history: one delivery, attempt 1 answered 500, attempt 2 answered 200.
        var deliveries = await fixture.WaitForAsync($"/api/webhooks/{webhookId}/deliveries", owner.AccessToken,
            d => d.GetArrayLength() == 1 && d[0].GetProperty("status").GetString() == "delivered", ct);
        var history = deliveries[0].GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal([500, 200], history.Select(a => a.GetProperty("statusCode").GetInt32()));
        Assert.Equal([1, 2], history.Select(a => a.GetProperty("attempt").GetInt32()));
        Assert.Equal(alertId, deliveries[0].GetProperty("alertId").GetGuid());
        Assert.Equal("firing", deliveries[0].GetProperty("transition").GetString());

        // A second unreachable (then lost) of the same node is the same open alert, not a new one.
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.NodeLost, EventSeverities.Critical, "node n1 is lost", NodeId: node), ct);
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.NodeBack, EventSeverities.Info, "node n1 is back", NodeId: node), ct);

        var resolved = await receiver.NextAsync(ct);
        Assert.True(WebhookReceiver.SignatureHolds(resolved, secret, Tolerance));
        using var resolvedBody = JsonDocument.Parse(resolved.Body);
        Assert.Equal("resolved", resolvedBody.RootElement.GetProperty("status").GetString());
        Assert.Equal(alertId, resolvedBody.RootElement.GetProperty("alert").GetProperty("id").GetGuid());
        Assert.Contains("node n1 is back", resolvedBody.RootElement.GetProperty("alert").GetProperty("resolution").GetString(), StringComparison.Ordinal);

        var alert = await fixture.WaitForAsync($"/api/alerts/{alertId}", owner.AccessToken, a => a.GetProperty("deliveries").GetArrayLength() == 2
            && a.GetProperty("deliveries").EnumerateArray().All(d => d.GetProperty("status").GetString() == "delivered"), ct);
        Assert.Equal("resolved", alert.GetProperty("status").GetString());
        Assert.Single(Alerts(await fixture.SendAsync(HttpMethod.Get, "/api/alerts", owner.AccessToken, null, HttpStatusCode.OK, ct)));
        Assert.False(receiver.TryNext(out _));
    }

    [Fact]
    public async Task DeployFailed_FiresOnRollback_IsAcknowledged_AndResolvesOnTheNextSuccess()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var owner = await fixture.Cp.SignUpAsync();
        var other = await fixture.Cp.SignUpAsync();
        var app = Guid.NewGuid();
        await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken, new { name = "deploys", kind = "deploy-failed" }, HttpStatusCode.Created, ct);

        // Another app's success resolves nothing; another account's failure fires nothing here.
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.DeployRolledBack, EventSeverities.Warning,
            "deploy of web rolled back to release 2", app, OperationId: Guid.NewGuid()), ct);
        await fixture.WriteEventAsync(new AppEvent(other.AccountId, DateTimeOffset.UtcNow, EventTypes.DeployFailed, EventSeverities.Critical, "not yours", app), ct);
        var firing = Alerts(await fixture.WaitForAsync("/api/alerts?status=open", owner.AccessToken, p => Alerts(p).Length == 1, ct))[0];
        Assert.Equal("firing", firing.GetProperty("status").GetString());
        Assert.Equal("app", firing.GetProperty("subject").GetProperty("type").GetString());
        Assert.Equal(app, firing.GetProperty("subject").GetProperty("id").GetGuid());
        Assert.Equal("deploy of web rolled back to release 2", firing.GetProperty("message").GetString());
        var id = firing.GetProperty("id").GetGuid();

        var acknowledged = await fixture.SendAsync(HttpMethod.Post, $"/api/alerts/{id}/acknowledge", owner.AccessToken, null, HttpStatusCode.OK, ct);
        Assert.Equal("acknowledged", acknowledged.GetProperty("status").GetString());
        Assert.True(acknowledged.TryGetProperty("acknowledgedAt", out var at) && at.ValueKind == JsonValueKind.String);
        await fixture.SendAsync(HttpMethod.Post, $"/api/alerts/{id}/acknowledge", owner.AccessToken, null, HttpStatusCode.OK, ct);
        await fixture.SendAsync(HttpMethod.Post, $"/api/alerts/{id}/acknowledge", other.AccessToken, null, HttpStatusCode.NotFound, ct);
        Assert.Equal(id, Alerts(await fixture.SendAsync(HttpMethod.Get, "/api/alerts?status=acknowledged", owner.AccessToken, null, HttpStatusCode.OK, ct)).Single()
            .GetProperty("id").GetGuid());
        Assert.Empty(Alerts(await fixture.SendAsync(HttpMethod.Get, "/api/alerts", other.AccessToken, null, HttpStatusCode.OK, ct)));

        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.DeploySucceeded, EventSeverities.Info, "deploy of api succeeded", Guid.NewGuid()), ct);
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.DeploySucceeded, EventSeverities.Info, "deploy of web succeeded", app), ct);
        var resolved = Alerts(await fixture.WaitForAsync("/api/alerts?status=resolved", owner.AccessToken, p => Alerts(p).Length == 1, ct))[0];
        Assert.Equal(id, resolved.GetProperty("id").GetGuid());
        Assert.Contains("deploy of web succeeded", resolved.GetProperty("resolution").GetString(), StringComparison.Ordinal);
        await fixture.SendAsync(HttpMethod.Post, $"/api/alerts/{id}/acknowledge", owner.AccessToken, null, HttpStatusCode.Conflict, ct);

        // A new failure after the resolution is a new alert.
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.DeployFailed, EventSeverities.Critical, "deploy of web failed", app), ct);
        var again = Alerts(await fixture.WaitForAsync("/api/alerts?status=firing", owner.AccessToken, p => Alerts(p).Length == 1, ct))[0];
        Assert.NotEqual(id, again.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task CpuAndMemoryAbove_FireWhenAboveForTheDuration_AndResolveWhenBelow()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var owner = await fixture.Cp.SignUpAsync();
        var node = await fixture.InsertNodeAsync(owner.AccountId, ct);
        Guid hot = Guid.NewGuid(), dipped = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        const long Limit = 1000;
        // hot: 150 % CPU and 90 % of its memory for 20 s; dipped: as hot, but its latest sample is under the thresholds.
        for (var s = 20; s >= 0; s -= 5)
        {
            await fixture.InsertStatsAsync(node, hot, now.AddSeconds(-s), 150, 900, Limit, ct);
            await fixture.InsertStatsAsync(node, dipped, now.AddSeconds(-s), s == 0 ? 40 : 150, s == 0 ? 500 : 900, Limit, ct);
        }

        var cpu = await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken,
            new { name = "cpu", kind = "cpu-above", threshold = 120, durationSeconds = 10 }, HttpStatusCode.Created, ct);
        var memory = await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken,
            new { name = "memory", kind = "memory-above", threshold = 80, durationSeconds = 10 }, HttpStatusCode.Created, ct);

        var firing = Alerts(await fixture.WaitForAsync("/api/alerts?status=firing", owner.AccessToken, p => Alerts(p).Length == 2, ct));
        Assert.All(firing, a => Assert.Equal(hot, a.GetProperty("subject").GetProperty("id").GetGuid()));
        Assert.Equal([cpu.GetProperty("id").GetGuid(), memory.GetProperty("id").GetGuid()],
            firing.Select(a => a.GetProperty("ruleId").GetGuid()).Order());
        var cpuAlert = firing.Single(a => a.GetProperty("kind").GetString() == "cpu-above");
        Assert.Contains("above 120%", cpuAlert.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(150, cpuAlert.GetProperty("detail").GetProperty("latest").GetDouble());

        // A sample under the threshold clears both.
        await fixture.InsertStatsAsync(node, hot, DateTimeOffset.UtcNow, 10, 100, Limit, ct);
        var resolved = Alerts(await fixture.WaitForAsync("/api/alerts?status=resolved", owner.AccessToken, p => Alerts(p).Length == 2, ct));
        Assert.All(resolved, a => Assert.Equal(hot, a.GetProperty("subject").GetProperty("id").GetGuid()));
        Assert.Empty(Alerts(await fixture.SendAsync(HttpMethod.Get, "/api/alerts?status=open", owner.AccessToken, null, HttpStatusCode.OK, ct)));
    }

    [Fact]
    public async Task AnEventCommittedAfterALaterOne_IsNotSkipped()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var owner = await fixture.Cp.SignUpAsync();
        await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken, new { name = "nodes", kind = "node-offline" }, HttpStatusCode.Created, ct);
        Guid early = Guid.NewGuid(), late = Guid.NewGuid();

        // The early event takes the lower id but commits last, after the evaluator has read (and moved on from) the later one.
        await using var connection = await fixture.Cp.Database.DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await EventLog.WriteAsync(connection, transaction, new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.NodeLost, EventSeverities.Critical,
            "early node lost", NodeId: early), ct);
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.NodeLost, EventSeverities.Critical, "late node lost", NodeId: late), ct);
        await fixture.WaitForAsync("/api/alerts", owner.AccessToken, p => Alerts(p).Length == 1, ct);
        await Task.Delay(TimeSpan.FromSeconds(3), ct); // a few more ticks
        await transaction.CommitAsync(ct);

        var alerts = Alerts(await fixture.WaitForAsync("/api/alerts", owner.AccessToken, p => Alerts(p).Length == 2, ct));
        Assert.Equal([early, late], alerts.Select(a => a.GetProperty("subject").GetProperty("id").GetGuid()).OrderBy(id => id == late));
    }

    [Fact]
    public async Task CrashLoop_FiresForTheScopedApp_AndResolvesOnItsNextSuccessfulDeploy()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var owner = await fixture.Cp.SignUpAsync();
        var app = (await fixture.SendAsync(HttpMethod.Post, "/api/apps", owner.AccessToken, new { name = "web" }, HttpStatusCode.Created, ct)).GetProperty("id").GetGuid();
        await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken, new { name = "web loops", kind = "crash-loop", appId = app }, HttpStatusCode.Created, ct);

        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.ReplicaCrashLooping, EventSeverities.Critical,
            "api/0 is crash-looping", Guid.NewGuid(), Guid.NewGuid(), ReplicaId: Guid.NewGuid()), ct);
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.ReplicaCrashLooping, EventSeverities.Critical,
            "web/1 is crash-looping: 5 restarts in 2 minutes", app, Guid.NewGuid(), ReplicaId: Guid.NewGuid()), ct);
        var firing = Alerts(await fixture.WaitForAsync("/api/alerts?status=firing", owner.AccessToken, p => Alerts(p).Length == 1, ct)).Single();
        Assert.Equal(app, firing.GetProperty("subject").GetProperty("id").GetGuid());
        Assert.Equal("crash-loop", firing.GetProperty("kind").GetString());

        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.DeploySucceeded, EventSeverities.Info, "deploy of web succeeded", app), ct);
        await fixture.WaitForAsync("/api/alerts?status=resolved", owner.AccessToken, p => Alerts(p).Length == 1, ct);
        Assert.Single(Alerts(await fixture.SendAsync(HttpMethod.Get, "/api/alerts", owner.AccessToken, null, HttpStatusCode.OK, ct)));
    }

    [Fact]
    public async Task Delivery_FailsAfterMaxAttempts_AndAnAddressThatTurnsIntoTheControlPlaneIsRefusedAtConnect()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        await using var receiver = await WebhookReceiver.StartAsync();
        foreach (var status in new[] { 500, 502, 404 })
        {
            receiver.Answers.Enqueue(status);
        }

        var owner = await fixture.Cp.SignUpAsync();
        var failing = (await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "failing", url = receiver.Url }, HttpStatusCode.Created, ct))
            .GetProperty("id").GetGuid();
        var rebound = (await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "rebound", url = receiver.Url + "/other" }, HttpStatusCode.Created, ct))
            .GetProperty("id").GetGuid();
        // As if its name now resolved to the control plane (DNS rebinding): the stored URL alone passed the check.
        await using (var command = fixture.Cp.Database.DataSource.CreateCommand("UPDATE a67.webhooks SET url = @url WHERE id = @id"))
        {
            command.Parameters.AddWithValue("url", $"{fixture.Cp.Http.BaseAddress}api/auth/login");
            command.Parameters.AddWithValue("id", rebound);
            await command.ExecuteNonQueryAsync(ct);
        }

        await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken,
            new { name = "deploys", kind = "deploy-failed", webhookIds = new[] { failing, rebound } }, HttpStatusCode.Created, ct);
        await fixture.WriteEventAsync(new AppEvent(owner.AccountId, DateTimeOffset.UtcNow, EventTypes.DeployFailed, EventSeverities.Critical, "deploy of web failed", Guid.NewGuid()), ct);

        // Settings of this fixture: 3 attempts, 1 s then 2 s apart.
        var failed = (await fixture.WaitForAsync($"/api/webhooks/{failing}/deliveries", owner.AccessToken,
            d => d.GetArrayLength() == 1 && d[0].GetProperty("status").GetString() == "failed", ct))[0];
        Assert.Equal([500, 502, 404], failed.GetProperty("history").EnumerateArray().Select(a => a.GetProperty("statusCode").GetInt32()));
        Assert.Equal(JsonValueKind.Null, failed.GetProperty("nextAttemptAt").ValueKind);

        var refused = (await fixture.WaitForAsync($"/api/webhooks/{rebound}/deliveries", owner.AccessToken,
            d => d.GetArrayLength() == 1 && d[0].GetProperty("status").GetString() == "failed", ct))[0];
        var attempts = refused.GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal(3, attempts.Length);
        Assert.All(attempts, a =>
        {
            Assert.Equal(JsonValueKind.Null, a.GetProperty("statusCode").ValueKind);
            Assert.Contains("control plane itself", a.GetProperty("error").GetString(), StringComparison.Ordinal);
        });
        Assert.True(receiver.Answers.IsEmpty);
    }
}
