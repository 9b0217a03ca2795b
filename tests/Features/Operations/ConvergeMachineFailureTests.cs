using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Operations;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <see cref="ConvergeMachine.Advance"/> when things go wrong, with no database: retries after their backoff delays,
/// timeouts, the start period, the deadline, rolling back, failing on the way back, and when it wakes up.
/// </summary>
public sealed class ConvergeMachineFailureTests
{
    [Fact]
    public void FailedStart_IsRetriedAfterTheBackoffDelays_ThenRollsBackToTheFromRelease()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(options: o => o.MaxAttempts = 4);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 1));
        world.Running(v1, 1);
        var serving = world.Live(v1).Single();
        world.Begin(v2, 1);
        world.Advance();
        world.Succeed(world.Unanswered(CommandKinds.PullImage).Single());
        world.Advance();

        // Delays 2 s, 4 s, then 8 s capped at MaxRetryDelay (5 s); the fourth failure is the last.
        foreach (var delay in new[] { 2, 4, 5 })
        {
            world.Now += TimeSpan.FromSeconds(1);
            world.Fail(world.Unanswered(CommandKinds.RunReplica).Single(), "host port 8080 is already in use");
            world.Advance();
            var retry = world.Entries(HistoryTypes.RetryScheduled)[^1];
            Assert.Equal(delay * 1000L, ((IDictionary<string, object>)retry.Data!)["delayMs"]);
            Assert.Equal(world.Now + TimeSpan.FromSeconds(delay), world.Operation.WakeAt);
            Assert.Empty(world.Unanswered());

            world.Now += TimeSpan.FromSeconds(delay) - TimeSpan.FromMilliseconds(1);
            world.Advance();
            Assert.Empty(world.Unanswered());

            world.Now += TimeSpan.FromMilliseconds(1);
            world.Advance();
            Assert.Single(world.Unanswered(CommandKinds.RunReplica));
        }

        Assert.Equal(OperationStatuses.Running, world.Operation.Status);
        world.Fail(world.Unanswered(CommandKinds.RunReplica).Single(), "host port 8080 is already in use");
        world.Advance();

        var op = world.Operation;
        Assert.Equal(OperationStatuses.RollingBack, op.Status);
        Assert.Equal(v1.Id, op.TargetReleaseId);
        Assert.Equal(1, op.TargetReplicas);
        Assert.Equal("replica 0 of release 2 on node b did not start after 4 attempts: host port 8080 is already in use", op.Reason);
        Assert.Equal(4, op.Attempts[OperationSteps.Start]);
        var rollback = Assert.Single(world.Entries(HistoryTypes.Rollback));
        Assert.StartsWith("rolling back to release 1 with 1 replica: ", rollback.Message, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3, 4], world.Entries(HistoryTypes.CommandSent).Where(h => h.Step == OperationSteps.Start)
            .Select(h => int.Parse(h.Message[(h.Message.LastIndexOf(' ') + 1)..^1], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Single(world.Unanswered(CommandKinds.Stop));

        world.RunToEnd();
        Assert.Equal(OperationStatuses.RolledBack, op.Status);
        Assert.Equal((v1.Id, 1), world.App);
        Assert.Equal(ReplicaStates.Healthy, serving.State);
        Assert.Equal([serving], world.Replicas.Where(r => r.IsLive));
        Assert.StartsWith("rolled back: replica 0 of release 2", world.History[^1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FailureWhileRollingBack_EndsFailed_WithBothReasons_AndLeavesTheAppAlone()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1));
        world.Begin(v1, 1);
        world.RunToEnd(until: () => world.Unanswered(CommandKinds.RunReplica).Count > 0);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            world.Fail(world.Unanswered(CommandKinds.RunReplica).Single(), "no such image");
            world.Advance();
            if (attempt < 3)
            {
                world.Now = world.Operation.WakeAt!.Value;
                world.Advance();
            }
        }

        Assert.Equal(OperationStatuses.RollingBack, world.Operation.Status);
        Assert.Null(world.Operation.TargetReleaseId);
        Assert.Contains("the app ran nothing before", world.Entries(HistoryTypes.Rollback).Single().Message, StringComparison.Ordinal);

        // The stop fails, so the container is removed by force; the removal fails every time.
        world.Fail(world.Unanswered(CommandKinds.Stop).Single(), "engine unavailable");
        world.Advance();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            world.Fail(world.Unanswered(CommandKinds.Remove).Single(), "engine unavailable");
            world.Advance();
            if (attempt < 3)
            {
                world.Now = world.Operation.WakeAt!.Value;
                world.Advance();
            }
        }

        var op = world.Operation;
        Assert.Equal(OperationStatuses.Failed, op.Status);
        Assert.StartsWith("replica 0 of release 1 on node a did not start after 3 attempts: no such image; rolling back failed too: ", op.Reason, StringComparison.Ordinal);
        Assert.EndsWith("could not be removed after 3 attempts: engine unavailable", op.Reason, StringComparison.Ordinal);
        Assert.Null(op.WakeAt);
        Assert.NotNull(op.FinishedAt);
        Assert.Equal(((Guid?)null, 0), world.App);
        Assert.StartsWith("failed: ", world.History[^1].Message, StringComparison.Ordinal);
        Assert.Contains(world.History, h => h.Message.Contains("removing it by force", StringComparison.Ordinal));
    }

    [Fact]
    public void CommandTimeout_CountsAsAFailedAttempt_AndTheLateResultIsIgnored()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1, noCheck: true));
        world.Begin(v1, 1);
        world.Advance();
        world.Succeed(world.Unanswered(CommandKinds.PullImage).Single());
        world.Advance();
        var first = world.Unanswered(CommandKinds.RunReplica).Single();
        Assert.Equal(first.At + world.Options.CommandTimeout, world.Operation.WakeAt);

        world.Now = first.At + world.Options.CommandTimeout;
        world.Advance();
        Assert.Empty(world.Entries(HistoryTypes.Timeout));

        world.Now += TimeSpan.FromMilliseconds(1);
        world.Advance();
        var timeout = Assert.Single(world.Entries(HistoryTypes.Timeout));
        Assert.Contains("did not start: no answer within 00:02:00", timeout.Message, StringComparison.Ordinal);
        Assert.Single(world.Entries(HistoryTypes.RetryScheduled));
        var replica = world.Live(v1).Single();
        Assert.Equal(ReplicaStates.Placed, replica.State);
        Assert.Equal("no answer within 00:02:00", replica.LastError);

        world.Now = world.Operation.WakeAt!.Value;
        world.Advance();
        var second = world.Unanswered(CommandKinds.RunReplica).Single(c => c.Id != first.Id);
        Assert.Equal(2, replica.Attempts);

        // The first delivery answers after all: it no longer counts for anything.
        world.Succeed(first);
        world.Advance();
        Assert.Equal(ReplicaStates.Starting, replica.State);
        Assert.Equal(second.Id, replica.CommandId);

        world.Succeed(second);
        world.Advance();
        Assert.Equal(OperationStatuses.Succeeded, world.Operation.Status);
        Assert.Equal($"container-{second.Id:N}", replica.ContainerId);
        Assert.Equal(2, world.Operation.Attempts[OperationSteps.Start]);
    }

    [Fact]
    public void FailedPull_IsRetried_ThenRollsBack_NamingTheNodeAndTheError()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(nodes: 1);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2));
        world.Begin(v1, 2);
        world.Advance();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Assert.Equal(attempt, world.Operation.Attempts[OperationSteps.Pull]);
            world.Fail(world.Unanswered(CommandKinds.PullImage).Single(), "manifest unknown");
            world.Advance();
            if (attempt < 3)
            {
                world.Now = world.Operation.WakeAt!.Value;
                world.Advance();
            }
        }

        Assert.Equal(OperationStatuses.RollingBack, world.Operation.Status);
        Assert.Equal("pulling 127.0.0.1:5000/a67/sample:v1 on node a failed 3 times: manifest unknown", world.Operation.Reason);
        Assert.Equal(2, world.Entries(HistoryTypes.RetryScheduled).Count);
        Assert.DoesNotContain(world.Sent, c => c.Request.Kind == CommandKinds.RunReplica);
    }

    [Fact]
    public void ProbeFailures_WithinTheStartPeriod_AreNotCounted_ThenRetriesFailuresFailTheStep()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var check = new ReleaseHealthCheck(ReleaseHealthCheck.Http, 8080, "/healthz", IntervalSeconds: 1, TimeoutSeconds: 1, Retries: 2, StartPeriodSeconds: 5);
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1, check));
        world.Begin(v1, 1);

        world.RunToEnd(fail: c => c.Request.Kind == CommandKinds.Probe, until: () => world.Operation.Status == OperationStatuses.RollingBack);

        var startedAt = world.Replicas.Single().StartedAt!.Value;
        var failures = world.History.Where(h => h.Step == OperationSteps.Health && h.Message.Contains("probe failed", StringComparison.Ordinal)).ToList();
        var uncounted = failures.Where(h => h.Message.Contains("within the start period (not counted)", StringComparison.Ordinal)).ToList();
        Assert.True(uncounted.Count >= 3, string.Join("\n", failures.Select(h => $"{h.At:ss.fff} {h.Message}")));
        Assert.All(uncounted, h => Assert.True(h.At < startedAt + TimeSpan.FromSeconds(5)));
        Assert.Equal(["(1 of 2)", "(2 of 2)"], failures.Except(uncounted).Select(h => h.Message.Split(": probe failed ")[1][..8]));
        Assert.All(failures.Except(uncounted), h => Assert.True(h.At >= startedAt + TimeSpan.FromSeconds(5)));
        Assert.Equal(OperationStatuses.RollingBack, world.Operation.Status);
        Assert.Equal("replica 0 of release 1 on node a did not become healthy: 2 probes failed, the last with: connection refused", world.Operation.Reason);
        Assert.Equal(failures.Count, world.Operation.Attempts[OperationSteps.Health]);
    }

    [Fact]
    public void PullFailingOnTheWayBack_EndsFailed_WithThePullFailedAndItsReplicaPlaced()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 1, rollout: new(0, 1)));
        world.Running(v1, 1);
        world.Begin(v2, 1);

        // v1 goes first to make room; v2 never becomes healthy; going back, v1's image cannot be pulled any more.
        world.RunToEnd(fail: c => c.Request.Kind == CommandKinds.Probe
            || (c.Request.Kind == CommandKinds.PullImage && ConvergeHarness.Body(c, RelayJsonContext.Default.PullImageBody).Image.EndsWith(":v1", StringComparison.Ordinal)));

        Assert.Equal(OperationStatuses.Failed, world.Operation.Status);
        Assert.Contains("rolling back failed too: pulling 127.0.0.1:5000/a67/sample:v1 on node ", world.Operation.Reason, StringComparison.Ordinal);
        var pull = world.Pulls.Single(p => p.ReleaseId == v1.Id);
        Assert.Equal((PullStates.Failed, 3), (pull.State, pull.Attempts));
        var waiting = world.Live(v1).Single();
        Assert.Equal((ReplicaStates.Placed, pull.NodeId), (waiting.State, waiting.NodeId));
    }

    [Fact]
    public void DeadlinePassed_RollsBack_WithAFreshDeadline_AndPassedAgainOnTheWayBack_Fails()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness();
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 1));
        var v2 = world.AddRelease(ConvergeHarness.Spec("v2", 1));
        world.Running(v1, 1);
        world.Begin(v2, 1);
        world.Advance();
        Assert.Equal(world.Now + world.Options.PullTimeout, world.Operation.WakeAt);

        world.Now = world.Operation.Deadline + TimeSpan.FromSeconds(1);
        world.Advance();

        var op = world.Operation;
        Assert.Equal(OperationStatuses.RollingBack, op.Status);
        Assert.Equal(v1.Id, op.TargetReleaseId);
        Assert.Equal("the pull step did not finish within the operation's time limit (00:30:00)", op.Reason);
        Assert.Equal(world.Now + world.Options.MaxDuration, op.Deadline);
        Assert.Contains(world.Entries(HistoryTypes.Timeout), h => h.Message.StartsWith("the operation did not finish by its deadline", StringComparison.Ordinal));
        Assert.Single(world.Entries(HistoryTypes.Rollback));

        world.Now = op.Deadline + TimeSpan.FromSeconds(1);
        world.Advance();
        Assert.Equal(OperationStatuses.Failed, op.Status);
        Assert.Contains("rolling back failed too: the ", op.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void WakeAt_IsTheEarliestOf_CommandTimeouts_Retries_ProbeTimes_AndTheDeadline()
    {
        _ = TestEnvironment.TimeCap();
        var world = new ConvergeHarness(options: o => o.MaxDuration = TimeSpan.FromMinutes(5));
        var v1 = world.AddRelease(ConvergeHarness.Spec("v1", 2));
        world.Begin(v1, 2);

        world.Advance();
        Assert.Equal(world.Operation.Deadline, world.Operation.WakeAt);

        world.Now += TimeSpan.FromSeconds(3);
        var pulls = world.Unanswered(CommandKinds.PullImage);
        world.Succeed(pulls[0]);
        world.Advance();
        var run = world.Unanswered(CommandKinds.RunReplica).Single();
        Assert.Equal(run.At + world.Options.CommandTimeout, world.Operation.WakeAt);

        world.Now += TimeSpan.FromSeconds(3);
        world.Succeed(run);
        world.Advance();
        Assert.Equal(world.Now + TimeSpan.FromSeconds(1), world.Operation.WakeAt);

        world.Now += TimeSpan.FromSeconds(1);
        world.Advance();
        var probe = world.Unanswered(CommandKinds.Probe).Single();
        Assert.Equal(probe.At + TimeSpan.FromSeconds(31), world.Operation.WakeAt);

        world.Fail(pulls[1], "registry unavailable");
        world.Advance();
        Assert.Equal(world.Now + TimeSpan.FromSeconds(2), world.Operation.WakeAt);
    }
}
