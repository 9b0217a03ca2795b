using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Relay;

/// <summary>
/// The recurring ping through each node's command queue (every 2 s here): heartbeats alone do not make a node Ready
/// for long; it must also consume its commands.
/// </summary>
public sealed class CommandPathHealthTests(PingingRelayFixture fixture) : IClassFixture<PingingRelayFixture>
{
    ControlPlaneFixture Cp => fixture.Cp;

    /// <summary>Heartbeats every second, as a live relay would (and answers pings too, when asked), until the test ends.</summary>
    static async Task RunRelayAsync(TestRelay relay, bool answerPings, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await relay.SendAsync(relay.Heartbeat([TestRelay.Container("web")]), ct);
                if (answerPings)
                {
                    await relay.AnswerPingsAsync(ct);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [Fact]
    public async Task Node_ThatHeartbeatsButNeverAnswersPings_IsDegraded_UntilItAnswers()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var deaf = RunRelayAsync(relay, answerPings: false, stop.Token);

        var node = await Eventually.ThatAsync(() => fixture.NodeAsync(user, relay.NodeId), n => n.GetProperty("status").GetString() == "Degraded", ct, "Degraded");
        Assert.NotNull(node.GetProperty("commandPath").GetProperty("lastPingSentAt").GetString());
        Assert.Equal(JsonValueKind.Null, node.GetProperty("commandPath").GetProperty("lastPingOkAt").ValueKind);
        using var degraded = await Cp.SendAsync(HttpMethod.Get, "/api/nodes?status=Degraded", user.AccessToken);
        Assert.Contains((await degraded.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray(), n => n.GetProperty("id").GetGuid() == relay.NodeId);
        // Unanswered pings outlive their two-interval lifetime and are marked Expired.
        await Eventually.ThatAsync(() => fixture.ScalarAsync<long>("SELECT count(*) FROM a67.relay_commands WHERE node_id = @n AND status = 'Expired'", ("n", relay.NodeId)),
            n => n > 0, ct, "an expired ping");

        await stop.CancelAsync();
        await deaf;
        using var stopListening = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var listening = RunRelayAsync(relay, answerPings: true, stopListening.Token);
        node = await Eventually.ThatAsync(() => fixture.NodeAsync(user, relay.NodeId), n => n.GetProperty("status").GetString() == "Ready", ct, "Ready again");
        Assert.True(node.GetProperty("commandPath").GetProperty("latencyMs").GetInt32() >= 0);
        await stopListening.CancelAsync();
        await listening;
    }

    [Fact]
    public async Task Node_ThatAnswersPings_StaysReady_WithItsCommandLatency()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(45));
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var running = RunRelayAsync(relay, answerPings: true, stop.Token);

        var node = await Eventually.ThatAsync(() => fixture.NodeAsync(user, relay.NodeId),
            n => n.GetProperty("commandPath").GetProperty("latencyMs").ValueKind == JsonValueKind.Number, ct, "an answered ping");
        var firstAnswer = node.GetProperty("commandPath").GetProperty("lastPingOkAt").GetDateTimeOffset();

        // Three more intervals: longer than a node may leave pings unanswered.
        for (var seen = DateTimeOffset.UtcNow; DateTimeOffset.UtcNow - seen < TimeSpan.FromSeconds(6);)
        {
            node = await fixture.NodeAsync(user, relay.NodeId);
            Assert.Equal("Ready", node.GetProperty("status").GetString());
            await Task.Delay(250, ct);
        }

        Assert.True(node.GetProperty("commandPath").GetProperty("lastPingOkAt").GetDateTimeOffset() > firstAnswer);
        Assert.InRange(node.GetProperty("commandPath").GetProperty("latencyMs").GetInt32(), 0, 5000);
        Assert.True(await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.relay_commands WHERE node_id = @n AND kind = 'ping' AND status = 'Succeeded'", ("n", relay.NodeId)) >= 3);
        await stop.CancelAsync();
        await running;
    }
}
