using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Operations;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <see cref="ConvergeMachine.Advance"/> on the way to a target, with no database: placement and pulls, starts,
/// probes, and old replicas retired within max surge and max unavailable.
/// </summary>
public sealed class ConvergeMachineRolloutTests
{
    [Fact]
    public void FirstDeploy_PlacesEveryReplicaSpreadOverTheNodes_AndPullsOncePerNode()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 3));
        world.Begin(v1, 3);

        world.Advance();

        var op = world.Operation;
        Assert.Equal(OperationStatuses.Running, op.Status);
        Assert.Equal(OperationSteps.Pull, op.Step);
        var placed = world.Live(v1);
        Assert.Equal([0, 1, 2], placed.Select(r => r.Slot).Order());
        Assert.All(placed, r => Assert.Equal(ReplicaStates.Placed, r.State));
        Assert.Equal(3, placed.Select(r => r.Generation).Distinct().Count());
        Assert.Equal([1, 2], placed.GroupBy(r => r.NodeId).Select(g => g.Count()).Order());

        // One pull per node, however many of its replicas wait for it.
        var pulls = world.Unanswered(CommandKinds.PullImage);
        Assert.Equal(world.Nodes.Select(n => n.Id).Order(), pulls.Select(p => p.Request.NodeId).Order());
        Assert.Equal(2, op.Attempts[OperationSteps.Pull]);
        Assert.Empty(world.Unanswered(CommandKinds.RunReplica));
        Assert.Equal(3, world.History.Count(h => h.Type == HistoryTypes.StepStarted && h.Message.StartsWith("placed replica", StringComparison.Ordinal)));
        Assert.Equal(2, world.Entries(HistoryTypes.CommandSent).Count);
        Assert.All(world.Entries(HistoryTypes.CommandSent), h => Assert.EndsWith("(attempt 1)", h.Message, StringComparison.Ordinal));

        // Nothing else is due until a pull times out.
        Assert.Equal(world.Now + world.Options.PullTimeout, op.WakeAt);
    }

    [Fact]
    public void Pulled_StartsTheReplicasOfThatNode_Started_ProbesAfterASecond_Healthy_Succeeds()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 3));
        world.Begin(v1, 3);
        world.Advance();
        var pulls = world.Unanswered(CommandKinds.PullImage);

        world.Now += TimeSpan.FromSeconds(1);
        world.Succeed(pulls[0]);
        world.Advance();

        var onNode = world.Live(v1).Where(r => r.NodeId == pulls[0].Request.NodeId).ToList();
        var runs = world.Unanswered(CommandKinds.RunReplica);
        Assert.Equal(onNode.Count, runs.Count);
        Assert.All(runs, run => Assert.Equal(pulls[0].Request.NodeId, run.Request.NodeId));
        Assert.All(onNode, r => Assert.Equal(ReplicaStates.Starting, r.State));
        Assert.All(runs, run =>
        {
            var body = ConvergeHarness.Body(run, RelayJsonContext.Default.RunReplicaBody);
            var replica = world.ReplicaOf(run);
            Assert.Equal(replica.Generation, body.Generation);
            Assert.Equal(world.AppId.ToString("N"), body.Replica.App);
            Assert.Equal(replica.Id, world.Replicas.Single(r => r.CommandId == run.Id).Id);
        });
        Assert.Equal(OperationSteps.Pull, world.Operation.Step);
        Assert.Equal(onNode.Count, world.Operation.Attempts[OperationSteps.Start]);

        world.Now += TimeSpan.FromSeconds(1);
        world.Succeed(runs[0]);
        world.Advance();
        var started = world.ReplicaOf(runs[0]);
        Assert.Equal(ReplicaStates.Started, started.State);
        Assert.Equal($"container-{runs[0].Id:N}", started.ContainerId);
        Assert.Single(started.Ports);
        Assert.Empty(world.Unanswered(CommandKinds.Probe));
        Assert.Equal(world.Now + TimeSpan.FromSeconds(1), world.Operation.WakeAt);

        world.Now += TimeSpan.FromSeconds(1);
        world.Advance();
        var probe = Assert.Single(world.Unanswered(CommandKinds.Probe));
        Assert.Equal(started, world.ReplicaOf(probe));
        Assert.Equal(ReplicaStates.Probing, started.State);

        world.Succeed(probe);
        world.Advance();
        Assert.Equal(ReplicaStates.Healthy, started.State);
        Assert.Equal(world.Now, started.HealthyAt);

        world.RunToEnd();
        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal(OperationSteps.Done, world.Operation.Step);
        Assert.Null(world.Operation.WakeAt);
        Assert.Equal((v1.Id, 3), world.App);
        Assert.All(world.Live(v1), r => Assert.Equal(ReplicaStates.Healthy, r.State));
        Assert.Equal(HistoryTypes.Finished, world.History[^1].Type);

        // One command per replica start, one pull per node: nothing was sent twice.
        Assert.Equal(3, world.Sent.Count(c => c.Request.Kind == CommandKinds.RunReplica));
        Assert.Equal(2, world.Sent.Count(c => c.Request.Kind == CommandKinds.PullImage));
        Assert.Equal(world.Entries(HistoryTypes.CommandSent).Count, world.Entries(HistoryTypes.CommandSent).Select(h => h.Message).Distinct().Count());
        Assert.Equal(new Dictionary<string, int> { [OperationSteps.Pull] = 2, [OperationSteps.Start] = 3, [OperationSteps.Health] = 3 }, world.Operation.Attempts);
    }

    [Fact]
    public void Deploy_WithoutHealthCheck_CountsAStartedReplicaHealthy()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2, noCheck: true));
        world.Begin(v1, 2);

        world.RunToEnd();

        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.DoesNotContain(world.Sent, c => c.Request.Kind == CommandKinds.Probe);
        Assert.Contains(world.History, h => h.Message.Contains("no health check: running counts as healthy", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(3, 1, 0)]
    [InlineData(3, 0, 1)]
    [InlineData(4, 2, 1)]
    [InlineData(2, 1, 1)]
    public void Rollout_KeepsReplicasMinusMaxUnavailableServing_AndAtMostMaxSurgeExtra(int replicas, int maxSurge, int maxUnavailable)
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", replicas));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", replicas, rollout: new(maxSurge, maxUnavailable)));
        world.Running(v1, replicas);
        world.Begin(v2, replicas);

        var fewestServing = int.MaxValue;
        var mostPlaced = 0;
        world.RunToEnd(() =>
        {
            fewestServing = Math.Min(fewestServing, world.Serving(v1) + world.Serving(v2));
            // Replicas that are not on their way out: the old that still serve and the new ones.
            mostPlaced = Math.Max(mostPlaced, world.Replicas.Count(r => r.IsLive && !r.IsRetiring));
        });

        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal(replicas - maxUnavailable, fewestServing);
        Assert.True(mostPlaced <= replicas + maxSurge, $"{mostPlaced} replicas at once, more than {replicas} + {maxSurge}");
        Assert.Empty(world.Live(v1));
        Assert.Equal(replicas, world.Serving(v2));
        Assert.Equal((v2.Id, replicas), world.App);
        Assert.Equal(replicas, world.Sent.Count(c => c.Request.Kind == CommandKinds.Stop));
        Assert.Equal(replicas, world.Sent.Count(c => c.Request.Kind == CommandKinds.Remove));
        Assert.All(world.Replicas.Where(r => r.ReleaseId == v1.Id), r => Assert.Equal(ReplicaStates.Removed, r.State));
    }

    [Fact]
    public void Rollout_N3Surge1Unavailable0_RetiresOneOldReplicaPerNewHealthyOne()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 3));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 3));
        world.Running(v1, 3);
        world.Begin(v2, 3);

        world.Advance();
        Assert.Single(world.Live(v2));
        Assert.Empty(world.Unanswered(CommandKinds.Stop));

        // The new replica gets pulled, started and probed: only its health lets the first old one go.
        world.RunToEnd(until: () => world.Sent.Any(c => c.Request.Kind == CommandKinds.Stop));
        Assert.Equal(1, world.Serving(v2));
        var stop = Assert.Single(world.Sent, c => c.Request.Kind == CommandKinds.Stop);
        Assert.Equal(2, world.ReplicaOf(stop).Slot);
        Assert.Equal(2, world.Live(v1).Count(r => !r.IsRetiring));
        Assert.Contains(world.History, h => h.Type == HistoryTypes.CommandSent && h.Message.Contains("(replaced by release 2)", StringComparison.Ordinal));
    }

    [Fact]
    public void Scale_Down_RetiresTheHighestSlots_Up_PlacesTheMissingOnes()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 4));
        world.Running(v1, 4);

        world.Begin(v1, 2, OperationKinds.Scale);
        world.Advance();
        Assert.Equal([2, 3], world.Unanswered(CommandKinds.Stop).Select(c => world.ReplicaOf(c).Slot).Order());
        world.RunToEnd();
        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal([0, 1], world.Live(v1).Select(r => r.Slot).Order());
        Assert.Equal((v1.Id, 2), world.App);

        world.Begin(v1, 5, OperationKinds.Scale);
        world.RunToEnd();
        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal([0, 1, 2, 3, 4], world.Live(v1).Select(r => r.Slot).Order());
        Assert.All(world.Live(v1), r => Assert.Equal(ReplicaStates.Healthy, r.State));
        Assert.Equal([2, 3], world.Live(v1).GroupBy(r => r.NodeId).Select(g => g.Count()).Order());
    }
}
