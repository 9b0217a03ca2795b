using System.Text.RegularExpressions;
using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Relay;

/// <summary>The events consumer killed (SIGKILL) in the middle of a backlog, then started again: every event applied exactly once.</summary>
public sealed partial class RelayEventsKillTests(QuickRedeliveryRelayFixture fixture) : IClassFixture<QuickRedeliveryRelayFixture>
{
    const int Heartbeats = 350;
    const int Results = 150;

    /// <summary>Events the relay sent twice (it does, when it dies between sending and recording that it sent).</summary>
    const int SentTwice = 10;

    ControlPlaneFixture Cp => fixture.Cp;

    [Fact]
    public async Task Events_AreEachAppliedExactlyOnce_WhenTheConsumerIsKilledMidBatch_AndStartedAgain()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var commands = Enumerable.Range(0, Results).Select(_ => Guid.CreateVersion7()).ToArray();
        await RecordCommandsAsync(relay.NodeId, user.AccountId, commands, ct);

        // Every heartbeat carries its own CPU figure, so a heartbeat applied twice shows as a second row of that figure.
        var events = Enumerable.Range(0, Heartbeats)
            .Select(i => relay.Sign(relay.Heartbeat([TestRelay.Container("web", 1, new ContainerStats(i, 1, 2, 3, 4))])))
            .Concat(commands.Select(id => relay.Sign(relay.Result(id, CommandKinds.Inspect))))
            .ToArray();
        var messages = events.Concat(events.Take(SentTwice)).ToArray();
        Random.Shared.Shuffle(messages);

        // The whole backlog waits while the control plane is down, so the consumer meets it at full speed.
        await Cp.StopAsync();
        await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (message, token) => await relay.SendTextAsync(message, token));
        await Cp.StartAsync();
        await Eventually.ThatAsync(() => AppliedAsync(relay.NodeId), n => n >= 100, ct, "the first events applied");
        await Cp.KillAsync();

        var appliedAtKill = await AppliedAsync(relay.NodeId);
        Assert.True(appliedAtKill < events.Length, $"the consumer had applied all {events.Length} events before the kill; nothing was left to lose");
        // Every event not applied is still in the queue (some of them hidden until the dead consumer's hold runs out).
        Assert.True(await fixture.EventsWaitingAsync() >= events.Length - appliedAtKill);
        await Cp.StartAsync();

        // Messages the killed process held come back after their 5 s visibility timeout.
        await Eventually.ThatAsync(() => AppliedAsync(relay.NodeId), n => n == events.Length, ct, $"all {events.Length} events applied");
        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the events queue empty");
        var node = ("n", (object)relay.NodeId);
        Assert.Equal((long)Heartbeats, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.container_stats WHERE node_id = @n", node));
        Assert.Equal((long)Heartbeats, await fixture.ScalarAsync<long>("SELECT count(DISTINCT cpu_percent) FROM a67.container_stats WHERE node_id = @n", node));
        Assert.Equal((long)Results, await fixture.ScalarAsync<long>(
            "SELECT count(*) FROM a67.relay_commands WHERE node_id = @n AND status = 'Succeeded' AND completed_at IS NOT NULL AND (result->>'commandId')::uuid = id", node));
        Assert.Equal(0L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.audit_events WHERE type IN ('relay.event.refused', 'relay.event.poisoned')"));
        var poison = Cp.Queues.Service.GetQueueClient(QueueNames.Poison(fixture.EventsQueue));
        Assert.Empty((await poison.PeekMessagesAsync(32, ct)).Value);

        // At least the events sent twice were recognised; more when the kill fell between an effect and its delete.
        var recognised = DuplicateLine().Count(Cp.Output);
        Assert.True(recognised >= SentTwice, $"{recognised} redeliveries recognised");
        TestContext.Current.TestOutputHelper?.WriteLine($"{appliedAtKill} of {events.Length} events applied at the kill; {recognised} redeliveries recognised as applied");
    }

    /// <summary>Commands as <c>CommandSender</c> records them before it sends: pending, for this node, expiring in 10 minutes.</summary>
    async Task RecordCommandsAsync(Guid nodeId, Guid accountId, Guid[] ids, CancellationToken ct)
    {
        await using var insert = Cp.Database.DataSource.CreateCommand("""
            INSERT INTO a67.relay_commands (id, node_id, account_id, kind, created_at, expires_at)
            SELECT id, @node, @account, @kind, now(), now() + interval '10 minutes' FROM unnest(@ids) AS id
            """);
        insert.Parameters.AddWithValue("node", nodeId);
        insert.Parameters.AddWithValue("account", accountId);
        insert.Parameters.AddWithValue("kind", CommandKinds.Inspect);
        insert.Parameters.AddWithValue("ids", ids);
        Assert.Equal(ids.Length, await insert.ExecuteNonQueryAsync(ct));
    }

    /// <summary>Event ids applied for the node: each is recorded once, in the transaction of its effect.</summary>
    async Task<long> AppliedAsync(Guid nodeId) =>
        await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.relay_seen_events WHERE node_id = @n", ("n", nodeId));

    [GeneratedRegex("Relay event [^ ]+ was applied before; dropped")]
    private static partial Regex DuplicateLine();
}
