using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Azure;
using Azure.Storage.Queues;

namespace Automator67.Tests.Features.Relay;

/// <summary><c>POST /api/relay/credentials</c>: fresh queue credentials for a request signed with the node's key, nothing for anything else.</summary>
public sealed class CredentialRenewalTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static string Signed(Guid nodeId, ECDsa key, DateTimeOffset? requestedAt = null, string? kid = null, string type = MessageTypes.Renew) =>
        Jws.Sign(JsonSerializer.SerializeToUtf8Bytes(new CredentialRenewal(nodeId, requestedAt ?? DateTimeOffset.UtcNow), RelayJsonContext.Default.CredentialRenewal),
            key, kid ?? nodeId.ToString(), type);

    async Task<HttpResponseMessage> RenewAsync(string jws) =>
        await cp.Http.PostAsJsonAsync("/api/relay/credentials", new RenewCredentialsRequest(jws), TestEnvironment.TimeCap());

    async Task<long> CountAsync(string sql, Guid nodeId)
    {
        await using var command = cp.Database.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("n", nodeId.ToString());
        return (long)(await command.ExecuteScalarAsync(TestEnvironment.TimeCap()))!;
    }

    [Fact]
    public async Task Renew_ReturnsFreshCredentialsThatWork_AndTheCommandKeys()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(cp, user);
        await Task.Delay(1100, ct); // SAS expiry has a resolution of a second

        using var response = await RenewAsync(Signed(relay.NodeId, relay.Key));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var renewed = (await response.Content.ReadFromJsonAsync<RenewCredentialsResponse>(JsonSerializerOptions.Web, ct))!;
        Assert.True(renewed.Queues.ExpiresAt > relay.Enrollment.Queues.ExpiresAt);
        Assert.NotEqual(relay.Enrollment.Queues.CommandQueue, renewed.Queues.CommandQueue);
        Assert.Equal(relay.Enrollment.CommandSigningKeys.Select(k => k.Kid), renewed.CommandSigningKeys.Select(k => k.Kid));
        // Same scopes as at enrolment: its own command queue to read, the events queue to add to, nothing else.
        Assert.Empty((await new QueueClient(renewed.Queues.CommandQueue).ReceiveMessagesAsync(cancellationToken: ct)).Value);
        await new QueueClient(renewed.Queues.EventsQueue).SendMessageAsync("renewed", ct);
        var read = await Assert.ThrowsAsync<RequestFailedException>(() => new QueueClient(renewed.Queues.EventsQueue).ReceiveMessagesAsync(cancellationToken: ct));
        Assert.Equal(403, read.Status);
        using var node = await cp.SendAsync(HttpMethod.Get, $"/api/nodes/{relay.NodeId}", user.AccessToken);
        // PostgreSQL keeps microseconds.
        Assert.Equal(renewed.Queues.ExpiresAt, (await node.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("credentialExpiresAt").GetDateTimeOffset(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'node.credentials.renewed' AND detail->>'nodeId' = @n", relay.NodeId));
    }

    [Fact]
    public async Task Renew_Returns401_AndAuditsIt_ForARequestItCannotTrust()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(cp, user);
        using var other = await TestRelay.EnrollAsync(cp, user);
        using var doomed = await TestRelay.EnrollAsync(cp, user);
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using (var delete = await cp.SendAsync(HttpMethod.Delete, $"/api/nodes/{doomed.NodeId}", user.AccessToken))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        var good = Signed(relay.NodeId, relay.Key);
        using (var first = await RenewAsync(good))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var refused = new Dictionary<string, string>
        {
            ["a stranger's key"] = Signed(relay.NodeId, stranger),
            ["another node's key"] = Signed(relay.NodeId, other.Key),
            ["another node asking for this one"] = Signed(relay.NodeId, other.Key, kid: other.NodeId.ToString()),
            ["an old request"] = Signed(relay.NodeId, relay.Key, DateTimeOffset.UtcNow.AddMinutes(-6)),
            ["a request from the future"] = Signed(relay.NodeId, relay.Key, DateTimeOffset.UtcNow.AddMinutes(6)),
            ["a replay"] = good,
            ["an event passed off as a renewal"] = Signed(relay.NodeId, relay.Key, type: MessageTypes.Event),
            ["a deleted node"] = Signed(doomed.NodeId, doomed.Key),
            ["an unknown node"] = Signed(Guid.NewGuid(), stranger),
        };

        foreach (var (what, jws) in refused)
        {
            using var response = await RenewAsync(jws);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {(int)response.StatusCode}");
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            Assert.Equal("Renewal refused", problem.GetProperty("title").GetString());
        }

        Assert.Equal(6L, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'node.credentials.refused' AND detail->>'nodeId' = @n", relay.NodeId));
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'node.credentials.refused' AND detail->>'nodeId' = @n", other.NodeId));
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'node.credentials.refused' AND detail->>'nodeId' = @n", doomed.NodeId));
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'node.credentials.renewed' AND detail->>'nodeId' = @n", relay.NodeId));
    }

    [Theory]
    [InlineData("""{}""", "jws")]
    [InlineData("""{"jws":"not-a-jws"}""", "jws")]
    [InlineData("""{"jws":""}""", "jws")]
    [InlineData("""{"jws":5}""", "jws")]
    [InlineData("""{"jws":"a.b.c","extra":1}""", "extra")]
    public async Task Renew_Returns400_NamingTheField(string json, string field)
    {
        using var response = await cp.Http.PostAsync("/api/relay/credentials", new StringContent(json, System.Text.Encoding.UTF8, "application/json"), TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap())).GetProperty("errors").TryGetProperty(field, out _));
    }
}
