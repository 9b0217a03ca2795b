using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Tests.Infrastructure;
using Azure;
using Azure.Storage.Queues;

namespace Automator67.Tests.Features.Nodes;

public sealed class NodeEndpointsTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static readonly HostFacts Facts = new("build-host", "Debian GNU/Linux 12 (bookworm)", "x86_64", 2, 4L * 1024 * 1024 * 1024, "20.10.24", "1.41");

    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap());

    static string NewPublicKey() => Convert.ToBase64String(ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportSubjectPublicKeyInfo());

    async Task<string> JoinTokenAsync(ControlPlaneFixture.Session user, object? body = null)
    {
        using var response = await cp.SendAsync(HttpMethod.Post, "/api/nodes/join-tokens", user.AccessToken, body ?? new { });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await Json(response)).GetProperty("token").GetString()!;
    }

    async Task<HttpResponseMessage> EnrollAsync(string token, HostFacts? facts = null) =>
        await cp.Http.PostAsJsonAsync("/api/relay/enroll", new { token, publicKey = NewPublicKey(), facts = facts ?? Facts }, TestEnvironment.TimeCap());

    async Task<EnrollResponse> EnrolledAsync(ControlPlaneFixture.Session user, object? joinBody = null)
    {
        using var response = await EnrollAsync(await JoinTokenAsync(user, joinBody));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<EnrollResponse>(JsonSerializerOptions.Web, TestEnvironment.TimeCap()))!;
    }

    [Fact]
    public async Task Enroll_GivesTheNodeItsIdentity_AndCredentialsScopedToItsOwnQueues()
    {
        var user = await cp.SignUpAsync();
        var ct = TestEnvironment.TimeCap();

        var node = await EnrolledAsync(user, new { name = "edge-1", labels = new Dictionary<string, string> { ["region"] = "eu" } });

        Assert.Equal("edge-1", node.Name);
        Assert.NotEmpty(node.CommandSigningKeys);
        Assert.Equal(10, node.HeartbeatSeconds);
        var commands = new QueueClient(node.Queues.CommandQueue);
        var events = new QueueClient(node.Queues.EventsQueue);
        Assert.Empty((await commands.ReceiveMessagesAsync(maxMessages: 1, cancellationToken: ct)).Value);
        await events.SendMessageAsync("hello from the relay", ct);

        // Nothing beyond: the events credential cannot read, the command credential cannot write, and neither opens another queue.
        var readEvents = await Assert.ThrowsAsync<RequestFailedException>(() => events.ReceiveMessagesAsync(cancellationToken: ct));
        Assert.Equal(403, readEvents.Status);
        var writeCommands = await Assert.ThrowsAsync<RequestFailedException>(() => commands.SendMessageAsync("forged", ct));
        Assert.Equal(403, writeCommands.Status);
        var other = await EnrolledAsync(user);
        var otherQueue = new UriBuilder(node.Queues.CommandQueue) { Path = other.Queues.CommandQueue.AbsolutePath }.Uri;
        var readOther = await Assert.ThrowsAsync<RequestFailedException>(() => new QueueClient(otherQueue).ReceiveMessagesAsync(cancellationToken: ct));
        Assert.Equal(403, readOther.Status);
    }

    [Fact]
    public async Task Enroll_Returns401_ForAUsedOrExpiredOrUnknownToken()
    {
        var user = await cp.SignUpAsync();
        var token = await JoinTokenAsync(user);
        using var first = await EnrollAsync(token);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        using var reused = await EnrollAsync(token);
        var expired = await JoinTokenAsync(user);
        await using (var age = cp.Database.DataSource.CreateCommand("UPDATE a67.join_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL"))
        {
            await age.ExecuteNonQueryAsync(TestEnvironment.TimeCap());
        }

        using var late = await EnrollAsync(expired);
        using var unknown = await EnrollAsync("a67_join_never-issued");

        Assert.Equal(HttpStatusCode.Unauthorized, reused.StatusCode);
        Assert.Contains("used already", (await Json(reused)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
        Assert.Contains("expired", (await Json(late)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        await using var audited = cp.Database.DataSource.CreateCommand("SELECT count(*) FROM a67.audit_events WHERE type = 'node.enroll.refused'");
        Assert.True((long)(await audited.ExecuteScalarAsync(TestEnvironment.TimeCap()))! >= 3);
    }

    public static TheoryData<string, string> BadEnrolments => new()
    {
        { """{"token":"a67_join_x","publicKey":"not base64!","facts":{"hostname":"h","operatingSystem":"o","architecture":"a","cpus":1,"memoryBytes":1,"dockerVersion":"v","dockerApiVersion":"1.41"}}""", "publicKey" },
        { """{"token":"a67_join_x","publicKey":"AAAA","facts":{"hostname":"h","operatingSystem":"o","architecture":"a","cpus":1,"memoryBytes":1,"dockerVersion":"v","dockerApiVersion":"1.41"}}""", "publicKey" },
        { """{"token":"a67_join_x","publicKey":"KEY"}""", "facts" },
        { """{"publicKey":"KEY","facts":{"hostname":"h","operatingSystem":"o","architecture":"a","cpus":1,"memoryBytes":1,"dockerVersion":"v","dockerApiVersion":"1.41"}}""", "token" },
        { """{"token":"a67_join_x","publicKey":"KEY","facts":{"hostname":"h\u0007","operatingSystem":"o","architecture":"a","cpus":1,"memoryBytes":1,"dockerVersion":"v","dockerApiVersion":"1.41"}}""", "facts" },
        { """{"token":"a67_join_x","publicKey":"KEY","facts":{"hostname":"h","operatingSystem":"o","architecture":"a","cpus":0,"memoryBytes":1,"dockerVersion":"v","dockerApiVersion":"1.41"}}""", "facts" },
        { """{"token":"a67_join_x","publicKey":"KEY","facts":{"hostname":"h","operatingSystem":"o","architecture":"a","cpus":"two","memoryBytes":1,"dockerVersion":"v","dockerApiVersion":"1.41"}}""", "facts.cpus" },
        { """{"token":"a67_join_x","publicKey":"KEY","extra":1}""", "extra" },
    };

    [Theory]
    [MemberData(nameof(BadEnrolments))]
    public async Task Enroll_Returns400_NamingTheField_AndCreatesNothing(string json, string field)
    {
        using var response = await cp.Http.PostAsync("/api/relay/enroll",
            new StringContent(json.Replace("KEY", NewPublicKey(), StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"), TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await Json(response)).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Nodes_AreListedFilteredRenamedDrainedAndDeleted_WithinTheAccountOnly()
    {
        var user = await cp.SignUpAsync();
        var other = await cp.SignUpAsync();
        var eu = await EnrolledAsync(user, new { labels = new Dictionary<string, string> { ["region"] = "eu" } });
        var us = await EnrolledAsync(user, new { labels = new Dictionary<string, string> { ["region"] = "us" } });

        using var all = await cp.SendAsync(HttpMethod.Get, "/api/nodes", user.AccessToken);
        using var euOnly = await cp.SendAsync(HttpMethod.Get, "/api/nodes?label=region=eu", user.AccessToken);
        using var pending = await cp.SendAsync(HttpMethod.Get, "/api/nodes?status=Pending", user.AccessToken);
        var listed = await Json(all);
        Assert.Equal(2, listed.GetArrayLength());
        Assert.Equal("build-host", listed[0].GetProperty("facts").GetProperty("hostname").GetString());
        Assert.Equal(eu.NodeId, (await Json(euOnly))[0].GetProperty("id").GetGuid());
        Assert.Equal(2, (await Json(pending)).GetArrayLength());
        Assert.NotEqual(eu.Name, us.Name); // one hostname, two nodes: names stay unique

        using var rename = await cp.SendAsync(HttpMethod.Patch, $"/api/nodes/{eu.NodeId}", user.AccessToken, new { name = "frankfurt", labels = new Dictionary<string, string> { ["region"] = "eu-central" } });
        Assert.Equal(HttpStatusCode.OK, rename.StatusCode);
        using var clash = await cp.SendAsync(HttpMethod.Patch, $"/api/nodes/{us.NodeId}", user.AccessToken, new { name = "frankfurt" });
        Assert.Equal(HttpStatusCode.Conflict, clash.StatusCode);
        using var drain = await cp.SendAsync(HttpMethod.Post, $"/api/nodes/{us.NodeId}/drain", user.AccessToken);
        Assert.Equal("Draining", (await Json(drain)).GetProperty("status").GetString());

        foreach (var (method, path) in new[] { (HttpMethod.Get, ""), (HttpMethod.Patch, ""), (HttpMethod.Post, "/drain"), (HttpMethod.Delete, "") })
        {
            using var foreign = await cp.SendAsync(method, $"/api/nodes/{eu.NodeId}{path}", other.AccessToken, method == HttpMethod.Patch ? new { name = "mine" } : null);
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        using var delete = await cp.SendAsync(HttpMethod.Delete, $"/api/nodes/{eu.NodeId}", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await cp.SendAsync(HttpMethod.Get, $"/api/nodes/{eu.NodeId}", user.AccessToken);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        // Its credential reads nothing any more: the queue it was scoped to is gone.
        var revoked = await Assert.ThrowsAsync<RequestFailedException>(() => new QueueClient(eu.Queues.CommandQueue).ReceiveMessagesAsync(cancellationToken: TestEnvironment.TimeCap()));
        Assert.Equal(404, revoked.Status);
    }

    [Theory]
    [InlineData("""{"name":"-bad"}""", "name")]
    [InlineData("""{"labels":{"Region":"eu"}}""", "labels")]
    [InlineData("""{"labels":{"region":"a\u0000b"}}""", "labels")]
    [InlineData("""{"expiresInMinutes":0}""", "expiresInMinutes")]
    [InlineData("""{"expiresInMinutes":"soon"}""", "expiresInMinutes")]
    public async Task JoinToken_Returns400_NamingTheField(string json, string field)
    {
        var user = await cp.SignUpAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/nodes/join-tokens") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", user.AccessToken);

        using var response = await cp.Http.SendAsync(request, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await Json(response)).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task JoinToken_IsShownOnce_WithTheCommandToRun_AndStoredHashed()
    {
        var user = await cp.SignUpAsync();

        using var response = await cp.SendAsync(HttpMethod.Post, "/api/nodes/join-tokens", user.AccessToken, new { });

        var body = await Json(response);
        var token = body.GetProperty("token").GetString()!;
        Assert.StartsWith("a67_join_", token, StringComparison.Ordinal);
        Assert.Contains($"node-relay enroll --url {cp.Http.BaseAddress!.ToString().TrimEnd('/')} --token {token}", body.GetProperty("command").GetString(), StringComparison.Ordinal);
        await using var stored = cp.Database.DataSource.CreateCommand("SELECT count(*) FROM a67.join_tokens WHERE encode(token_hash, 'escape') LIKE '%' || @t || '%'");
        stored.Parameters.AddWithValue("t", token);
        Assert.Equal(0L, (long)(await stored.ExecuteScalarAsync(TestEnvironment.TimeCap()))!);
    }
}
