using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Relay;

/// <summary>Events that wait while the control plane is down, and a message that keeps coming back: nothing is lost or applied twice.</summary>
public sealed class RelayRestartTests(RelayFixture fixture) : IClassFixture<RelayFixture>
{
    ControlPlaneFixture Cp => fixture.Cp;

    [Fact]
    public async Task EventsQueuedWhileTheControlPlaneIsDown_AreEachAppliedOnce_AfterItStarts()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);

        await Cp.StopAsync();
        try
        {
            for (var i = 0; i < 40; i++)
            {
                await relay.SendAsync(relay.Heartbeat([TestRelay.Container("web", 1, new ContainerStats(i, 1, 2, 3, 4))]), ct);
            }

            var twice = relay.Sign(relay.Heartbeat([TestRelay.Container("web", 1, new ContainerStats(99, 1, 2, 3, 4))]));
            await relay.SendTextAsync(twice, ct);
            await relay.SendTextAsync(twice, ct);
        }
        finally
        {
            await Cp.StartAsync();
        }

        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the backlog consumed");
        Assert.Equal(41L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.container_stats WHERE node_id = @n", ("n", relay.NodeId)));
        Assert.Equal(41L, await fixture.ScalarAsync<long>("SELECT count(DISTINCT cpu_percent) FROM a67.container_stats WHERE node_id = @n", ("n", relay.NodeId)));
        Assert.Equal("Ready", (await fixture.NodeAsync(user, relay.NodeId)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task MessageDeliveredTooOften_GoesToThePoisonQueue_AuditedAndListedForTheAdmin()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var events = Cp.Queues.Service.GetQueueClient(fixture.EventsQueue);

        await Cp.StopAsync();
        string messageId;
        try
        {
            // Five deliveries that never ended in a delete: as if five consumers had died holding it.
            messageId = await relay.SendAsync(relay.Heartbeat([TestRelay.Container("web")]), ct);
            for (var delivery = 1; delivery <= 5; delivery++)
            {
                var received = await Eventually.ThatAsync(async () => (await events.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(1), ct)).Value, m => m.Length == 1, ct, "the message visible again");
                Assert.Equal(delivery, received[0].DequeueCount);
            }
        }
        finally
        {
            await Cp.StartAsync();
        }

        var poison = Cp.Queues.Service.GetQueueClient(QueueNames.Poison(fixture.EventsQueue));
        await Eventually.ThatAsync(async () => (await poison.PeekMessagesAsync(32, ct)).Value.Length, n => n == 1, ct, "the poison message");
        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the events queue empty");
        Assert.Equal("Pending", (await fixture.NodeAsync(user, relay.NodeId)).GetProperty("status").GetString());
        Assert.Equal(relay.NodeId.ToString(), await fixture.ScalarAsync<string>(
            "SELECT detail->>'nodeId' FROM a67.audit_events WHERE type = 'relay.event.poisoned' AND detail->>'messageId' = @id AND (detail->>'dequeueCount')::int = 6", ("id", messageId)));

        using (var asUser = await Cp.SendAsync(HttpMethod.Get, "/api/relay/poison", user.AccessToken))
        {
            Assert.Equal(HttpStatusCode.Forbidden, asUser.StatusCode);
        }

        var admin = await Cp.SignUpAsync();
        await using (var promote = Cp.Database.DataSource.CreateCommand("UPDATE a67.accounts SET role = 'admin' WHERE id = @id"))
        {
            promote.Parameters.AddWithValue("id", admin.AccountId);
            await promote.ExecuteNonQueryAsync(ct);
        }

        using var listed = await Cp.SendAsync(HttpMethod.Get, "/api/relay/poison", admin.AccessToken);
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        var message = Assert.Single((await listed.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray());
        Assert.Equal(relay.NodeId.ToString(), message.GetProperty("claimedNodeId").GetString());
        Assert.True(message.GetProperty("length").GetInt32() > message.GetProperty("preview").GetString()!.Length);
        Assert.True(message.GetProperty("insertedOn").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(JsonValueKind.Number, message.GetProperty("dequeueCount").ValueKind);
        using var badLimit = await Cp.SendAsync(HttpMethod.Get, "/api/relay/poison?limit=33", admin.AccessToken);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }
}
