using System.Net;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Alerts;

/// <summary><c>/api/webhooks</c> and <c>/api/alert-rules</c>: what is refused (and not stored), secrets, audit, and other accounts.</summary>
public sealed class AlertEndpointsTests(AlertsControlPlane fixture) : IClassFixture<AlertsControlPlane>
{
    ControlPlaneFixture Cp => fixture.Cp;

    static async Task AssertProblemAsync(HttpResponseMessage response, string field, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<JsonElement>(text);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), text);
    }

    public static TheoryData<string> BadUrls => new()
    {
        "ftp://hooks.example.com/a67",
        "hooks.example.com/a67",
        "/relative/hook",
        "",
        "http://user:password@hooks.example.com/a67",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:8080/hook",
        "http://hooks.example.com/a67#fragment",
        "file:///etc/passwd",
    };

    [Theory]
    [MemberData(nameof(BadUrls))]
    public async Task CreateWebhook_Returns400_ForAUrlThatIsNotAnHttpReceiver(string url)
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        using var response = await Cp.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "bad", url });
        await AssertProblemAsync(response, "url", ct);
        Assert.Equal(0, (await fixture.SendAsync(HttpMethod.Get, "/api/webhooks", owner.AccessToken, null, HttpStatusCode.OK, ct)).GetArrayLength());
    }

    [Fact]
    public async Task CreateWebhook_Returns400_ForTheControlPlaneItself()
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        var self = Cp.Http.BaseAddress!;
        foreach (var url in new[] { $"{self}api/health", $"http://localhost:{self.Port}/hook", $"http://[::1]:{self.Port}/hook", $"http://127.0.0.2:{self.Port}/x" })
        {
            using var response = await Cp.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "self", url });
            await AssertProblemAsync(response, "url", ct);
        }

        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM a67.webhooks WHERE account_id = @account", owner.AccountId, ct));
        // Loopback receivers on another port are fine (self-hosted setups, and these tests).
        await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "local", url = $"http://127.0.0.1:{self.Port + 1}/hook" }, HttpStatusCode.Created, ct);
    }

    public static TheoryData<string, string> BadRules => new()
    {
        { """{"name":"r","kind":"disk-full"}""", "kind" },
        { """{"name":"r"}""", "kind" },
        { """{"kind":"node-offline"}""", "name" },
        { """{"name":"r","kind":"cpu-above","threshold":0,"durationSeconds":60}""", "threshold" },
        { """{"name":"r","kind":"cpu-above","threshold":6401,"durationSeconds":60}""", "threshold" },
        { """{"name":"r","kind":"cpu-above","durationSeconds":60}""", "threshold" },
        { """{"name":"r","kind":"memory-above","threshold":101,"durationSeconds":60}""", "threshold" },
        { """{"name":"r","kind":"memory-above","threshold":50,"durationSeconds":9}""", "durationSeconds" },
        { """{"name":"r","kind":"memory-above","threshold":50,"durationSeconds":86401}""", "durationSeconds" },
        { """{"name":"r","kind":"memory-above","threshold":50}""", "durationSeconds" },
        { """{"name":"r","kind":"node-offline","threshold":50}""", "threshold" },
        { """{"name":"r","kind":"deploy-failed","durationSeconds":60}""", "durationSeconds" },
        { """{"name":"r","kind":"node-offline","appId":"0197a000-0000-7000-8000-000000000001"}""", "appId" },
        { """{"name":"r","kind":"deploy-failed","nodeId":"0197a000-0000-7000-8000-000000000001"}""", "nodeId" },
        { """{"name":"r","kind":"crash-loop","appId":"0197a000-0000-7000-8000-000000000001"}""", "appId" },
        { """{"name":"r","kind":"node-offline","nodeId":"0197a000-0000-7000-8000-000000000001"}""", "nodeId" },
        { """{"name":"r","kind":"node-offline","webhookIds":["0197a000-0000-7000-8000-000000000001"]}""", "webhookIds" },
        { """{"name":"r","kind":"node-offline","severity":"high"}""", "severity" },
    };

    [Theory]
    [MemberData(nameof(BadRules))]
    public async Task CreateRule_Returns400_NamingTheField_AndStoresNothing(string body, string field)
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/alert-rules") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", owner.AccessToken);
        using var response = await Cp.Http.SendAsync(request, ct);
        await AssertProblemAsync(response, field, ct);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM a67.alert_rules WHERE account_id = @account", owner.AccountId, ct));
    }

    [Fact]
    public async Task Rule_CannotUseAnotherAccountsWebhook_AndPatchValidatesAsCreateDoes()
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        var other = await Cp.SignUpAsync();
        var theirs = await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", other.AccessToken, new { name = "theirs", url = "https://hooks.example.com/a" }, HttpStatusCode.Created, ct);
        using (var response = await Cp.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken,
            new { name = "r", kind = "crash-loop", webhookIds = new[] { theirs.GetProperty("id").GetGuid() } }))
        {
            await AssertProblemAsync(response, "webhookIds", ct);
        }

        var mine = await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "mine", url = "https://hooks.example.com/b" }, HttpStatusCode.Created, ct);
        var rule = await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken,
            new { name = "cpu", kind = "cpu-above", threshold = 400, durationSeconds = 300, webhookIds = new[] { mine.GetProperty("id").GetGuid() } }, HttpStatusCode.Created, ct);
        var path = $"/api/alert-rules/{rule.GetProperty("id").GetGuid()}";
        using (var response = await Cp.SendAsync(HttpMethod.Patch, path, owner.AccessToken, new { threshold = 7000 }))
        {
            await AssertProblemAsync(response, "threshold", ct);
        }

        var patched = await fixture.SendAsync(HttpMethod.Patch, path, owner.AccessToken, new { threshold = 250, enabled = false, webhookIds = Array.Empty<Guid>() }, HttpStatusCode.OK, ct);
        Assert.Equal(250, patched.GetProperty("threshold").GetDouble());
        Assert.False(patched.GetProperty("enabled").GetBoolean());
        Assert.Equal(0, patched.GetProperty("webhookIds").GetArrayLength());
        Assert.Equal(300, patched.GetProperty("durationSeconds").GetInt32());
        await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken, new { name = "cpu", kind = "node-offline" }, HttpStatusCode.Conflict, ct);
    }

    [Fact]
    public async Task Webhook_SecretIsShownOnce_Rotates_AndCreateAndDeleteAreAudited()
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        var created = await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken,
            new { name = "chat", url = "https://chat.example.com/hooks/T000/B000/secret-path" }, HttpStatusCode.Created, ct);
        var id = created.GetProperty("id").GetGuid();
        var secret = created.GetProperty("secret").GetString()!;
        Assert.Equal(secret[^4..], created.GetProperty("secretHint").GetString());

        var listed = (await fixture.SendAsync(HttpMethod.Get, "/api/webhooks", owner.AccessToken, null, HttpStatusCode.OK, ct))[0];
        Assert.False(listed.TryGetProperty("secret", out _));
        Assert.DoesNotContain(secret, listed.ToString(), StringComparison.Ordinal);

        var rotated = await fixture.SendAsync(HttpMethod.Post, $"/api/webhooks/{id}/rotate-secret", owner.AccessToken, null, HttpStatusCode.OK, ct);
        var newSecret = rotated.GetProperty("secret").GetString()!;
        Assert.NotEqual(secret, newSecret);
        Assert.Equal(newSecret[^4..], (await fixture.SendAsync(HttpMethod.Get, $"/api/webhooks/{id}", owner.AccessToken, null, HttpStatusCode.OK, ct))
            .GetProperty("secretHint").GetString());

        var rule = await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken, new { name = "n", kind = "node-offline", webhookIds = new[] { id } }, HttpStatusCode.Created, ct);
        await fixture.SendAsync(HttpMethod.Delete, $"/api/alert-rules/{rule.GetProperty("id").GetGuid()}", owner.AccessToken, null, HttpStatusCode.NoContent, ct);
        await fixture.SendAsync(HttpMethod.Delete, $"/api/webhooks/{id}", owner.AccessToken, null, HttpStatusCode.NoContent, ct);
        await fixture.SendAsync(HttpMethod.Get, $"/api/webhooks/{id}", owner.AccessToken, null, HttpStatusCode.NotFound, ct);

        var audit = await fixture.SendAsync(HttpMethod.Get, "/api/audit", owner.AccessToken, null, HttpStatusCode.OK, ct);
        var types = audit.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToArray();
        foreach (var type in new[] { "webhook.created", "webhook.secret.rotated", "alert_rule.created", "alert_rule.deleted", "webhook.deleted" })
        {
            Assert.Contains(type, types);
        }

        // The audit names the host, never the secret or the URL's path (a secret itself for some receivers).
        Assert.DoesNotContain(secret, audit.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(newSecret, audit.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret-path", audit.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherAccountsWebhooksRulesAndAlerts_Are404()
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        var other = await Cp.SignUpAsync();
        var webhook = (await fixture.SendAsync(HttpMethod.Post, "/api/webhooks", owner.AccessToken, new { name = "w", url = "https://hooks.example.com/w" }, HttpStatusCode.Created, ct))
            .GetProperty("id").GetGuid();
        var rule = (await fixture.SendAsync(HttpMethod.Post, "/api/alert-rules", owner.AccessToken, new { name = "r", kind = "deploy-failed" }, HttpStatusCode.Created, ct))
            .GetProperty("id").GetGuid();
        await fixture.WriteEventAsync(new(owner.AccountId, DateTimeOffset.UtcNow, "deploy.failed", "critical", "deploy of x failed", Guid.NewGuid()), ct);
        var alert = (await fixture.WaitForAsync("/api/alerts", owner.AccessToken, p => p.GetProperty("alerts").GetArrayLength() == 1, ct))
            .GetProperty("alerts")[0].GetProperty("id").GetGuid();

        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Get, $"/api/webhooks/{webhook}", null),
            (HttpMethod.Get, $"/api/webhooks/{webhook}/deliveries", null),
            (HttpMethod.Post, $"/api/webhooks/{webhook}/rotate-secret", null),
            (HttpMethod.Delete, $"/api/webhooks/{webhook}", null),
            (HttpMethod.Get, $"/api/alert-rules/{rule}", null),
            (HttpMethod.Patch, $"/api/alert-rules/{rule}", new { enabled = false }),
            (HttpMethod.Delete, $"/api/alert-rules/{rule}", null),
            (HttpMethod.Get, $"/api/alerts/{alert}", null),
            (HttpMethod.Post, $"/api/alerts/{alert}/acknowledge", null),
        })
        {
            using var response = await Cp.SendAsync(method, path, other.AccessToken, body);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path}: {(int)response.StatusCode}");
        }

        Assert.Equal(0, (await fixture.SendAsync(HttpMethod.Get, "/api/webhooks", other.AccessToken, null, HttpStatusCode.OK, ct)).GetArrayLength());
        Assert.Equal(0, (await fixture.SendAsync(HttpMethod.Get, "/api/alert-rules", other.AccessToken, null, HttpStatusCode.OK, ct)).GetArrayLength());
        Assert.Equal(0, (await fixture.SendAsync(HttpMethod.Get, "/api/alerts", other.AccessToken, null, HttpStatusCode.OK, ct)).GetProperty("alerts").GetArrayLength());
        // Nothing of the owner's changed.
        Assert.True((await fixture.SendAsync(HttpMethod.Get, $"/api/alert-rules/{rule}", owner.AccessToken, null, HttpStatusCode.OK, ct)).GetProperty("enabled").GetBoolean());
        Assert.Equal("firing", (await fixture.SendAsync(HttpMethod.Get, $"/api/alerts/{alert}", owner.AccessToken, null, HttpStatusCode.OK, ct)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Alerts_BadQuery_Is400()
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await Cp.SignUpAsync();
        using var response = await Cp.SendAsync(HttpMethod.Get, "/api/alerts?status=burning", owner.AccessToken);
        await AssertProblemAsync(response, "status", ct);
        using var limit = await Cp.SendAsync(HttpMethod.Get, "/api/alerts?limit=0", owner.AccessToken);
        await AssertProblemAsync(limit, "limit", ct);
    }
}
