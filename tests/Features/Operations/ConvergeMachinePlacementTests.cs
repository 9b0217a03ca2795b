using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Operations;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <see cref="ConvergeMachine.Advance"/> placing replicas where room is short, with no database: it places what fits,
/// waits while replicas still come and go, and counts a failure only once nothing moves, retried after its delays.
/// </summary>
public sealed class ConvergeMachinePlacementTests
{
    [Fact]
    public void Rollout_OnAFullNode_WaitsForTheRetiredReplicaToFreeItsRoom_WithoutSpendingPlacementAttempts()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(nodes: 0);
        world.AddNode("a", memoryBytes: 64L << 20);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 2, rollout: new(0, 1)));
        world.Running(v1, 2);
        world.Begin(v2, 2);

        // The old replica takes 8 s to stop (its grace period): until it is gone there is no room for the new one.
        world.Advance();
        var stop = world.Unanswered(CommandKinds.Stop).Single();
        while (world.Operation.WakeAt < stop.At + TimeSpan.FromSeconds(8))
        {
            world.Now = world.Operation.WakeAt!.Value;
            world.Advance();
        }

        Assert.Equal(OperationStatuses.Running, world.Operation.Status);
        world.Now = stop.At + TimeSpan.FromSeconds(8);
        world.Succeed(stop);
        world.Advance();
        world.RunToEnd();

        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal(2, world.Serving(v2));
        Assert.DoesNotContain(world.History, h => h.Message.StartsWith("placement failed", StringComparison.Ordinal));
    }

    [Fact]
    public void Rollout_PlacesAsMuchOfTheSurgeAsFits()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(nodes: 0);
        world.AddNode("a", memoryBytes: 128L << 20);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 3));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 3, rollout: new(2, 0)));
        world.Running(v1, 3);
        world.Begin(v2, 3);

        world.Advance();
        Assert.Single(world.Live(v2));

        world.RunToEnd();
        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal(3, world.Serving(v2));
    }

    [Fact]
    public void Placement_CountsAsFailedOnlyOnceNothingElseMoves_AndIsRetriedAfterItsDelays()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(nodes: 0);
        world.AddNode("a", memoryBytes: 64L << 20);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2));
        world.Running(v1, 2);
        world.Begin(v1, 3, OperationKinds.Scale);

        var tries = new List<DateTimeOffset>();
        world.RunToEnd(() => tries.AddRange(world.History.Where(h => h.Message.StartsWith("placement failed", StringComparison.Ordinal)).Select(h => h.At).Except(tries)));

        Assert.Equal([ConvergeHarness.Start, ConvergeHarness.Start.AddSeconds(2), ConvergeHarness.Start.AddSeconds(6)], tries);
        Assert.Equal(OperationStatuses.RolledBack, world.Operation.Status);
        Assert.Equal("placement failed 3 times: no Ready node that meets the constraints has room for a replica: "
            + "not enough memory (resources.memoryMiB 32 per replica; the most free on a node is 0 MiB).", world.Operation.Reason);
        Assert.Equal((v1.Id, 2), world.App);
    }

    [Fact]
    public void RollBack_OnAFullNode_PlacesWhatFits_AsTheNewReplicasGo()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(nodes: 0);
        world.AddNode("a", memoryBytes: 64L << 20);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2, rollout: new(0, 1)));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 2, rollout: new(0, 1)));
        world.Running(v1, 2);
        world.Begin(v2, 2);

        // v2's first replica comes up (both v1 replicas go to make room); its second never starts.
        world.RunToEnd(until: () => world.Unanswered(CommandKinds.RunReplica).Any(c => ConvergeHarness.Body(c, RelayJsonContext.Default.RunReplicaBody).Replica.Replica == 1));
        Assert.Empty(world.Live(v1));
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            world.Fail(world.Unanswered(CommandKinds.RunReplica).Single(), "no space left on device");
            world.Advance();
            if (attempt < 3)
            {
                world.Now = world.Operation.WakeAt!.Value;
                world.Advance();
            }
        }

        Assert.Equal(OperationStatuses.RollingBack, world.Operation.Status);
        world.RunToEnd();

        Assert.Equal(OperationStatuses.RolledBack, world.Operation.Status);
        Assert.Equal(2, world.Serving(v1));
        Assert.Empty(world.Live(v2));
        Assert.DoesNotContain(world.History, h => h.Message.StartsWith("placement failed", StringComparison.Ordinal));
    }
}
