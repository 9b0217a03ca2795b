using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Relay;

/// <summary>The queue function of a67-relay-events, fed as a relay feeds it: signed events on the real Azurite queue.</summary>
public sealed class RelayEventsConsumerTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    ControlPlaneFixture Cp => fixture.Cp;

    [Fact]
    public async Task Heartbeat_MakesTheNodeReady_WithItsFactsAndInventory_AndAppendsStats()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        Assert.Equal("Pending", (await fixture.NodeAsync(user, relay.NodeId)).GetProperty("status").GetString());

        var upgraded = TestRelay.Facts with { DockerVersion = "24.0.7" };
        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("web", 1, new ContainerStats(12.5, 100, 1000, 10, 20)), TestRelay.Container("worker")], upgraded), ct);

        var node = await Eventually.ThatAsync(() => fixture.NodeAsync(user, relay.NodeId), n => n.GetProperty("status").GetString() == "Ready", ct, "Ready");
        Assert.True(node.GetProperty("lastHeartbeatAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal("24.0.7", node.GetProperty("facts").GetProperty("dockerVersion").GetString());
        var containers = node.GetProperty("containers");
        Assert.Equal(["web", "worker"], containers.EnumerateArray().Select(c => c.GetProperty("app").GetString()));
        Assert.Equal("running", containers[0].GetProperty("state").GetString());
        Assert.Equal(12.5, containers[0].GetProperty("stats").GetProperty("cpuPercent").GetDouble());
        // Only a measured container adds a stats row.
        Assert.Equal(1L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.container_stats WHERE node_id = @n AND app = 'web' AND memory_limit = 1000", ("n", relay.NodeId)));
        Assert.Equal(0, await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the queue to empty"));
    }

    [Fact]
    public async Task Events_AreDroppedAndAudited_WhenForged_ClaimingAnotherNode_OrFromADeletedNode()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        using var other = await TestRelay.EnrollAsync(Cp, user);
        using var doomed = await TestRelay.EnrollAsync(Cp, user);
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var beat = relay.Heartbeat([TestRelay.Container("web")]);

        var forged = await relay.SendTextAsync(relay.Sign(beat, key: stranger), ct);
        var otherKey = await relay.SendTextAsync(relay.Sign(beat, key: other.Key), ct);
        var claimsOther = await relay.SendTextAsync(other.Sign(beat), ct); // signed by the other node, but the envelope names this one
        var asCommand = await relay.SendTextAsync(relay.Sign(beat, type: MessageTypes.Command), ct);
        var unknown = await relay.SendTextAsync(relay.Sign(beat, kid: Guid.NewGuid().ToString()), ct);
        var garbage = await relay.SendTextAsync("not a signed message", ct);
        // A node that was heard from (its key is cached), then deleted, then heard from again.
        await doomed.SendAsync(doomed.Heartbeat([]), ct);
        await Eventually.ThatAsync(() => fixture.NodeAsync(user, doomed.NodeId), n => n.GetProperty("status").GetString() == "Ready", ct, "the doomed node Ready");
        using (var delete = await Cp.SendAsync(HttpMethod.Delete, $"/api/nodes/{doomed.NodeId}", user.AccessToken))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        var deleted = await doomed.SendAsync(doomed.Heartbeat([TestRelay.Container("ghost")]), ct);

        async Task<string> Reason(string id) => (await Eventually.ThatAsync(() => fixture.RefusalAsync(id), r => r is not null, ct, $"refusal of {id}"))!;
        Assert.Equal("the signature does not verify", await Reason(forged));
        Assert.Equal("the signature does not verify", await Reason(otherKey));
        Assert.Equal("the event claims to come from another node than the one that signed it", await Reason(claimsOther));
        Assert.Equal($"the message is not of type {MessageTypes.Event}", await Reason(asCommand));
        Assert.Equal("the message names a node that is unknown or deleted", await Reason(unknown));
        Assert.Equal("the message is not a compact JWS naming its node", await Reason(garbage));
        // Deleted while its key was cached, or after: refused either way.
        Assert.True(await Reason(deleted) is "the node has been deleted" or "the message names a node that is unknown or deleted");

        // Nothing of them was applied, and the owner reads the refusals about its nodes in its audit log.
        Assert.Equal("Pending", (await fixture.NodeAsync(user, relay.NodeId)).GetProperty("status").GetString());
        Assert.Equal(0L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.node_inventory WHERE node_id = @n", ("n", relay.NodeId)));
        using var audit = await Cp.SendAsync(HttpMethod.Get, "/api/audit?type=relay.event.refused", user.AccessToken);
        var events = (await audit.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("events").EnumerateArray().ToArray();
        Assert.Contains(events, e => e.GetProperty("detail").GetProperty("messageId").GetString() == claimsOther
            && e.GetProperty("detail").GetProperty("nodeId").GetString() == other.NodeId.ToString());
        Assert.DoesNotContain(events, e => e.GetProperty("detail").GetProperty("messageId").GetString() == unknown);
        Assert.All(events, e => Assert.DoesNotContain("containers", e.GetProperty("detail").GetRawText(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Event_DeliveredTwice_IsAppliedOnce()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var once = relay.Sign(relay.Heartbeat([TestRelay.Container("web", 1, new ContainerStats(1, 2, 3, 4, 5))]));

        await relay.SendTextAsync(once, ct);
        await relay.SendTextAsync(once, ct);
        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("web", 1, new ContainerStats(1, 2, 3, 4, 5))]), ct);

        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the queue to empty");
        await Eventually.ThatAsync(() => fixture.ScalarAsync<long>("SELECT count(*) FROM a67.relay_seen_events WHERE node_id = @n", ("n", relay.NodeId)), n => n == 2, ct, "two events seen");
        Assert.Equal(2L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.container_stats WHERE node_id = @n", ("n", relay.NodeId)));
    }

    [Fact]
    public async Task HeartbeatInParts_ReplacesTheInventory_OnceEveryPartArrived_AndAnOlderHeartbeatNever()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var now = DateTimeOffset.UtcNow;
        async Task<string[]> Apps() => [.. (await fixture.NodeAsync(user, relay.NodeId)).GetProperty("containers").EnumerateArray().Select(c => c.GetProperty("app").GetString()!)];

        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("before")], sentAt: now.AddSeconds(-20)), ct);
        await Eventually.ThatAsync(Apps, a => a.SequenceEqual(["before"]), ct, "the first inventory");

        var id = Guid.NewGuid();
        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("b1"), TestRelay.Container("b2")], sentAt: now.AddSeconds(-10), part: 2, parts: 3, heartbeatId: id), ct);
        await relay.SendAsync(relay.Heartbeat([], sentAt: now.AddSeconds(-10), part: 3, parts: 3, heartbeatId: id), ct);
        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the parts consumed");
        Assert.Equal(["before"], await Apps());

        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("a1")], sentAt: now.AddSeconds(-10), part: 1, parts: 3, heartbeatId: id), ct);
        await Eventually.ThatAsync(Apps, a => a.SequenceEqual(["a1", "b1", "b2"]), ct, "the assembled inventory");
        Assert.Equal(0L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.node_heartbeat_parts WHERE node_id = @n", ("n", relay.NodeId)));

        // Parts without an id belong together by their sending time; an older heartbeat delivered late changes nothing.
        var at = now.AddSeconds(-5);
        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("late")], sentAt: now.AddSeconds(-30)), ct);
        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("c1")], sentAt: at, part: 1, parts: 2), ct);
        await relay.SendAsync(relay.Heartbeat([TestRelay.Container("c2")], sentAt: at, part: 2, parts: 2), ct);
        await Eventually.ThatAsync(Apps, a => a.SequenceEqual(["c1", "c2"]), ct, "the second assembled inventory");
        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the queue to empty");
        Assert.Equal(["c1", "c2"], await Apps());
    }

    [Theory]
    [InlineData("""{"facts":null,"containers":[]}""", "malformed heartbeat: facts and containers are required")]
    [InlineData("""{"facts":FACTS,"containers":[],"part":3,"parts":2}""", "malformed heartbeat: part must be between 1 and parts (at most 100)")]
    [InlineData("""{"facts":FACTS,"containers":[{"id":"x"}]}""", "malformed heartbeat: each container needs id, name, app, release and state (at most 256 characters)")]
    [InlineData("""{"facts":FACTS,"containers":"many"}""", "malformed heartbeat: facts and containers are required")]
    public async Task MalformedHeartbeat_IsRefusedWithTheReason_AndNothingApplied(string body, string reason)
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var json = JsonDocument.Parse(body.Replace("FACTS", JsonSerializer.Serialize(TestRelay.Facts, JsonSerializerOptions.Web), StringComparison.Ordinal)).RootElement;

        var id = await relay.SendAsync(relay.Envelope(EventKinds.Heartbeat, json), ct);

        Assert.Equal(reason, await Eventually.ThatAsync(() => fixture.RefusalAsync(id), r => r is not null, ct, "the refusal"));
        Assert.Equal("Pending", (await fixture.NodeAsync(user, relay.NodeId)).GetProperty("status").GetString());
    }
}
