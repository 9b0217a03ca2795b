using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Heartbeats;
using Automator67.NodeRelay.Run;

namespace Automator67.Tests.NodeRelay;

public sealed class HeartbeatWorkerTests
{
    static readonly HostFacts Facts = new("host", "Debian GNU/Linux 12 (bookworm)", "x86_64", 8, 16L << 30, "20.10.24", "1.41");

    static ContainerReport Report(int i) => new(
        $"{i:D8}{new string('c', 56)}", $"a67-app-{i}-release-with-a-longish-name-0-g1-0123456789ab", $"app-{i}", "release-with-a-longish-name", 0, 1,
        "running", null, 0, DateTimeOffset.UtcNow, "healthy", new ContainerStats(12.5, 123_456_789, 1L << 30, 987_654_321, 123_456_789));

    [Fact]
    public void Sign_SplitsAHeartbeatTooLargeForOneMessage_IntoPartsThatEachFit_AndDropsNoContainer()
    {
        using var identity = new RelayIdentity(RelayUnits.State());
        var events = RelayUnits.Events(identity, TimeProvider.System);
        var containers = Enumerable.Range(0, 500).Select(Report).ToList();
        var sentAt = DateTimeOffset.UtcNow;

        var parts = HeartbeatWorker.Sign(events, Facts, containers, sentAt);

        Assert.True(parts.Count > 1);
        Assert.All(parts, p => Assert.True(p.Length <= Jws.MaxLength, $"{p.Length} bytes"));
        var bodies = parts.Select(p => Open(identity, p)).ToList();
        Assert.All(bodies, b => Assert.Equal(sentAt, b.SentAt));
        Assert.Equal(Enumerable.Range(1, parts.Count), bodies.Select(b => b.Body.Part));
        Assert.All(bodies, b => Assert.Equal(parts.Count, b.Body.Parts));
        Assert.Equal(containers.Select(c => c.Id), bodies.SelectMany(b => b.Body.Containers).Select(c => c.Id));
    }

    [Fact]
    public void Sign_SendsOnePart_WhenItFits_EvenWithNoContainers()
    {
        using var identity = new RelayIdentity(RelayUnits.State());
        var events = RelayUnits.Events(identity, TimeProvider.System);

        var none = HeartbeatWorker.Sign(events, Facts, [], DateTimeOffset.UtcNow);
        var few = HeartbeatWorker.Sign(events, Facts, [.. Enumerable.Range(0, 20).Select(Report)], DateTimeOffset.UtcNow);

        Assert.Equal((1, 1, 0), (Open(identity, Assert.Single(none)).Body.Part, Open(identity, none[0]).Body.Parts, Open(identity, none[0]).Body.Containers.Count));
        Assert.Equal(20, Open(identity, Assert.Single(few)).Body.Containers.Count);
    }

    static (DateTimeOffset SentAt, HeartbeatBody Body) Open(RelayIdentity identity, string message)
    {
        using var key = identity.State.Key();
        var (payload, kid, problem) = Jws.Verify(message, MessageTypes.Event, _ => key);
        Assert.Null(problem);
        Assert.Equal(identity.NodeId.ToString(), kid);
        var envelope = JsonSerializer.Deserialize(payload, RelayJsonContext.Default.EventEnvelope)!;
        Assert.Equal(EventKinds.Heartbeat, envelope.Kind);
        return (envelope.SentAt, envelope.Body.Deserialize(RelayJsonContext.Default.HeartbeatBody)!);
    }
}
