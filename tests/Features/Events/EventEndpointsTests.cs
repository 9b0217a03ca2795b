using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Functions.Features.Events;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Events;

/// <summary><c>GET /api/events</c> against the real control plane, over events written with the product's own <see cref="EventLog"/>.</summary>
public sealed class EventEndpointsTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    async Task WriteAsync(IEnumerable<AppEvent> events, CancellationToken ct)
    {
        await using var connection = await cp.Database.DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        foreach (var e in events)
        {
            await EventLog.WriteAsync(connection, transaction, e, ct);
        }

        await transaction.CommitAsync(ct);
    }

    async Task<JsonElement> GetAsync(string query, string token, CancellationToken ct)
    {
        using var response = await cp.SendAsync(HttpMethod.Get, $"/api/events{query}", token);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(ct));
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    static List<string> Messages(JsonElement page) => [.. page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("message").GetString()!)];

    [Fact]
    public async Task Events_FilterByAppNodeTypeAndTime_PageNewestFirst_AndStayInTheirAccount()
    {
        var ct = TestContext.Current.CancellationToken;
        var owner = await cp.SignUpAsync();
        var other = await cp.SignUpAsync();
        Guid app = Guid.NewGuid(), node = Guid.NewGuid(), operation = Guid.NewGuid();
        await WriteAsync(
        [
            new AppEvent(owner.AccountId, T0, EventTypes.NodeUnreachable, EventSeverities.Warning, "n1 unreachable", NodeId: node),
            new AppEvent(owner.AccountId, T0.AddMinutes(2), EventTypes.NodeLost, EventSeverities.Critical, "n1 lost", NodeId: node),
            new AppEvent(owner.AccountId, T0.AddMinutes(3), EventTypes.ReplicaRescheduled, EventSeverities.Warning, "web/0 rescheduled", app, node,
                Detail: new Dictionary<string, object?> { ["from"] = "n1", ["slot"] = 0 }),
            new AppEvent(owner.AccountId, T0.AddMinutes(4), EventTypes.DeploySucceeded, EventSeverities.Info, "deploy of web succeeded", app, OperationId: operation),
            new AppEvent(other.AccountId, T0.AddMinutes(5), EventTypes.NodeLost, EventSeverities.Critical, "someone else's node lost", NodeId: Guid.NewGuid()),
        ], ct);

        Assert.Equal(["deploy of web succeeded", "web/0 rescheduled", "n1 lost", "n1 unreachable"], Messages(await GetAsync("", owner.AccessToken, ct)));
        Assert.Equal(["deploy of web succeeded", "web/0 rescheduled"], Messages(await GetAsync($"?appId={app}", owner.AccessToken, ct)));
        Assert.Equal(["web/0 rescheduled", "n1 lost", "n1 unreachable"], Messages(await GetAsync($"?nodeId={node}", owner.AccessToken, ct)));
        Assert.Equal(["n1 lost", "n1 unreachable"], Messages(await GetAsync("?type=node.lost,node.unreachable", owner.AccessToken, ct)));
        Assert.Equal(["web/0 rescheduled", "n1 lost"],
            Messages(await GetAsync($"?from={Uri.EscapeDataString(T0.AddMinutes(1).ToString("O"))}&to={Uri.EscapeDataString(T0.AddMinutes(4).ToString("O"))}", owner.AccessToken, ct)));
        Assert.Equal(["someone else's node lost"], Messages(await GetAsync("", other.AccessToken, ct)));
        Assert.Empty(Messages(await GetAsync($"?appId={app}", other.AccessToken, ct)));

        var rescheduled = (await GetAsync("?type=replica.rescheduled", owner.AccessToken, ct)).GetProperty("events")[0];
        Assert.Equal("warning", rescheduled.GetProperty("severity").GetString());
        Assert.Equal(app, rescheduled.GetProperty("appId").GetGuid());
        Assert.Equal(node, rescheduled.GetProperty("nodeId").GetGuid());
        Assert.Equal("n1", rescheduled.GetProperty("detail").GetProperty("from").GetString());
        Assert.Equal(T0.AddMinutes(3), rescheduled.GetProperty("occurredAt").GetDateTimeOffset());

        // Pages of two: the second starts below the first's last id and ends the feed.
        var first = await GetAsync("?limit=2", owner.AccessToken, ct);
        Assert.Equal(["deploy of web succeeded", "web/0 rescheduled"], Messages(first));
        var second = await GetAsync($"?limit=2&before={first.GetProperty("nextBefore").GetInt64()}", owner.AccessToken, ct);
        Assert.Equal(["n1 lost", "n1 unreachable"], Messages(second));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextBefore").ValueKind);
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=501", "limit")]
    [InlineData("?before=0", "before")]
    [InlineData("?type=node.exploded", "type")]
    [InlineData("?type=node.lost,,bogus", "type")]
    [InlineData("?type=,", "type")]
    [InlineData("?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "from")]
    public async Task Events_BadQuery_Is400NamingTheParameter(string query, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        var owner = await cp.SignUpAsync();
        using var response = await cp.SendAsync(HttpMethod.Get, $"/api/events{query}", owner.AccessToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Events_WithoutAToken_Is401()
    {
        using var response = await cp.Http.GetAsync("/api/events", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
