using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Operations;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <see cref="ConvergeMachine.Advance"/> after a cancel, with no database: back to the from-release without going below
/// its replicas, ending Cancelled, or Failed when going back fails.
/// </summary>
public sealed class ConvergeMachineCancelTests
{
    [Fact]
    public void Cancel_MidRollout_BringsBackTheFromRelease_NeverBelowItsReplicas_EndsCancelled()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 2));
        world.Running(v1, 2);
        world.Begin(v2, 2);
        world.RunToEnd(until: () => world.Replicas.Any(r => r.ReleaseId == v1.Id && r.State == ReplicaStates.Removed));
        Assert.Equal(1, world.Serving(v2));
        Assert.Equal(1, world.Serving(v1));

        world.Cancel();
        var fewestServing = int.MaxValue;
        world.RunToEnd(() => fewestServing = Math.Min(fewestServing, world.Serving(v1) + world.Serving(v2)));

        var op = world.Operation;
        Assert.Equal(OperationStatuses.Cancelled, op.Status);
        Assert.Equal("cancelled; the app is back where it was", world.History[^1].Message);
        Assert.Equal((v1.Id, 2), world.App);
        Assert.Empty(world.Live(v2));
        Assert.Equal(2, world.Serving(v1));
        Assert.Equal(2, fewestServing);
        // The removed v1 replica came back with a fresh generation, its image pulled again within this operation.
        var back = world.Live(v1).Single(r => r.Slot == 1);
        Assert.True(back.Generation > world.Replicas.Where(r => r.ReleaseId == v2.Id).Max(r => r.Generation));
        Assert.Contains(world.Pulls, p => p.ReleaseId == v1.Id && p.NodeId == back.NodeId && p.State == PullStates.Pulled);
    }

    [Fact]
    public void FailureWhileCancelling_EndsFailed()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(options: o => o.MaxAttempts = 1);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 1, rollout: new(0, 1)));
        world.Running(v1, 1);
        world.Begin(v2, 1);
        world.RunToEnd(until: () => world.Unanswered(CommandKinds.RunReplica).Count > 0);
        Assert.DoesNotContain(world.Live(v1), r => !r.IsRetiring);

        world.Cancel();
        bool OfRelease1(SentCommand c) => ConvergeHarness.Body(c, RelayJsonContext.Default.RunReplicaBody).Replica.Release == "1";
        world.RunToEnd(until: () => world.Unanswered(CommandKinds.RunReplica).Any(OfRelease1));
        world.Fail(world.Unanswered(CommandKinds.RunReplica).Single(OfRelease1), "out of disk");
        world.Advance();

        Assert.Equal(OperationStatuses.Failed, world.Operation.Status);
        Assert.StartsWith("cancelled on request; cancelling failed too: replica ", world.Operation.Reason, StringComparison.Ordinal);
        Assert.EndsWith("did not start after 1 attempts: out of disk", world.Operation.Reason, StringComparison.Ordinal);
    }
}
