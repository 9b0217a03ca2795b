using System.Globalization;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Relay;

namespace Automator67.Functions.Features.Operations;

/// <summary>
/// The step machine of every operation. Deploy, scale, rollback, start and remove converge: it moves an app from what runs now to the operation's target
/// (a release × a number of replicas) the way a rolling update does. Each advance first takes in the results and
/// timeouts of the commands it sent, then does every step that need not wait, in this order: place missing replicas
/// (at most max surge above the target), pull the image on their nodes, start them, probe them until healthy, and
/// retire old replicas as far as max unavailable allows. It never blocks: commands go out with the advance, and a
/// result or a scheduled wake-up brings the next one. A step that runs out of attempts rolls back to the release the
/// app ran before (the same machine with the old target); a failure on the way back ends the operation Failed.
/// Stop and restart have passes of their own (stop every replica; restart them in place, a batch at a time); they
/// change no release, so a failure ends them Failed at once.
/// </summary>
public static class ConvergeMachine
{
    public static void Advance(AdvanceContext ctx)
    {
        // A rollback changes the target: look again at once with it, at most twice per advance.
        for (var pass = 0; pass < 3 && Pass(ctx); pass++)
        {
        }

        if (OperationStatuses.IsActive(ctx.Operation.Status))
        {
            ctx.Operation.WakeAt = NextWake(ctx);
        }
    }

    /// <summary>One pass; true when the operation started rolling back and wants another pass with the new target.</summary>
    static bool Pass(AdvanceContext ctx)
    {
        var op = ctx.Operation;
        var now = ctx.Now;
        if (!OperationStatuses.IsActive(op.Status))
        {
            return false;
        }

        if (op.Status == OperationStatuses.Pending)
        {
            op.Status = OperationStatuses.Running;
        }

        if (now > op.Deadline)
        {
            ctx.Record(HistoryTypes.Timeout, op.Step, $"the operation did not finish by its deadline ({op.Deadline:O})");
            return Fail(ctx, $"the {op.Step} step did not finish within the operation's time limit ({ctx.Options.MaxDuration})");
        }

        if (Absorb(ctx) is { } failure)
        {
            return Fail(ctx, failure);
        }

        if (op.Kind == OperationKinds.Stop && !op.CancelRequested)
        {
            StopPass(ctx);
            return false;
        }

        if (op.Kind == OperationKinds.Restart && !op.Reverting)
        {
            RestartPass(ctx);
            return false;
        }

        var target = op.TargetReleaseId is { } id ? ctx.Releases[id] : null;
        var wanted = target is null ? 0 : op.TargetReplicas;
        var rollout = target?.Spec.Rollout ?? new ReleaseRollout();
        var live = ctx.Replicas.Where(r => r.IsLive).ToList();
        var current = live.Where(r => r.ReleaseId == op.TargetReleaseId && !r.IsRetiring).ToList();
        var old = live.Where(r => r.ReleaseId != op.TargetReleaseId && !r.IsRetiring).ToList();

        // Scaling down: the extra replicas go first, unhealthy ones and the highest slots before the rest.
        foreach (var extra in current.OrderBy(r => r.State == ReplicaStates.Healthy ? 1 : 0).ThenByDescending(r => r.Slot).Take(Math.Max(0, current.Count - wanted)).ToList())
        {
            Retire(ctx, extra, "scaled down");
            current.Remove(extra);
        }

        // Old replicas that do not serve count for nothing: they go at once.
        foreach (var idle in old.Where(r => r.State != ReplicaStates.Healthy).ToList())
        {
            Retire(ctx, idle, "not serving");
            old.Remove(idle);
        }

        var missing = wanted - current.Count;
        var room = wanted + rollout.MaxSurge - (current.Count + old.Count);
        if (missing > 0 && room > 0 && target is not null)
        {
            if (PlaceReplicas(ctx, target, Math.Min(missing, room), current) is { } problem)
            {
                return Fail(ctx, problem);
            }
        }

        foreach (var replica in current.Where(r => r.CommandId is null && !SentNow(ctx, r) && Due(r.NextAt, now)))
        {
            switch (replica.State)
            {
                case ReplicaStates.Placed:
                    PullOrRun(ctx, target!, replica);
                    break;
                case ReplicaStates.Stopped:
                    SendRun(ctx, target!, replica);
                    break;
                case ReplicaStates.Started:
                    SendProbe(ctx, target!, replica);
                    break;
            }
        }

        // Old replicas go as the new ones become healthy, never below max unavailable under the target.
        var healthy = current.Count(r => r.State == ReplicaStates.Healthy);
        var canRetire = healthy + old.Count - Math.Max(0, wanted - rollout.MaxUnavailable);
        foreach (var replica in old.OrderByDescending(r => r.Slot).Take(Math.Clamp(canRetire, 0, old.Count)).ToList())
        {
            Retire(ctx, replica, $"replaced by release {target?.Number.ToString(CultureInfo.InvariantCulture) ?? "(none)"}");
        }

        foreach (var replica in ctx.Replicas.Where(r => r.State == ReplicaStates.Removing && r.CommandId is null && !SentNow(ctx, r) && Due(r.NextAt, now)))
        {
            SendRemove(ctx, replica);
        }

        var leaving = ctx.Replicas.Any(r => r.IsLive && (r.ReleaseId != op.TargetReleaseId || r.IsRetiring));
        if (current.Count == wanted && current.All(r => r.State == ReplicaStates.Healthy) && !leaving)
        {
            Finish(ctx);
            return false;
        }

        SetStep(ctx, current, leaving);
        return false;
    }

    /// <summary>Takes in the results and timeouts of the commands in flight; the reason the operation fails, if it does.</summary>
    static string? Absorb(AdvanceContext ctx)
    {
        var now = ctx.Now;
        var options = ctx.Options;
        foreach (var pull in ctx.Pulls.Where(p => p.State == PullStates.Pulling && p.CommandId is not null))
        {
            var outcome = ctx.OutcomeOf(pull.CommandId);
            var image = ctx.Releases[pull.ReleaseId].Spec.Image;
            var node = ctx.NodeName(pull.NodeId);
            if (outcome is { Status: CommandStatuses.Succeeded })
            {
                pull.State = PullStates.Pulled;
                pull.CommandId = null;
                pull.Changed = true;
                ctx.Record(HistoryTypes.Result, OperationSteps.Pull, $"pulled {image} on {node}");
                continue;
            }

            if (outcome is null && now <= pull.CommandSentAt + options.PullTimeout)
            {
                continue;
            }

            var error = outcome?.Error ?? $"no answer within {options.PullTimeout}";
            ctx.Record(outcome is null ? HistoryTypes.Timeout : HistoryTypes.Result, OperationSteps.Pull, $"pulling {image} on {node} failed: {error}");
            pull.CommandId = null;
            pull.LastError = error;
            pull.Changed = true;
            if (pull.Attempts >= options.MaxAttempts)
            {
                pull.State = PullStates.Failed;
                return $"pulling {image} on {node} failed {pull.Attempts} times: {error}";
            }

            pull.NextAt = now + ScheduleRetry(ctx, OperationSteps.Pull, pull.Attempts, $"the pull on {node}");
        }

        foreach (var replica in ctx.Replicas.Where(r => r.CommandId is not null && r.IsLive))
        {
            var outcome = ctx.OutcomeOf(replica.CommandId);
            var timeout = TimeoutOf(ctx, replica);
            if (outcome is null && now <= replica.CommandSentAt + timeout)
            {
                continue;
            }

            var ok = outcome?.Status == CommandStatuses.Succeeded;
            var error = outcome?.Error ?? $"no answer within {timeout}";
            var type = outcome is null ? HistoryTypes.Timeout : HistoryTypes.Result;
            var release = ctx.Releases[replica.ReleaseId];
            var what = $"replica {replica.Slot} of release {release.Number} on {ctx.NodeName(replica.NodeId)}";
            replica.CommandId = null;
            replica.Changed = true;
            switch (replica.State)
            {
                case ReplicaStates.Starting when ok:
                    var started = outcome!.Output(RelayJsonContext.Default.RunReplicaOutput);
                    replica.ContainerId = started?.ContainerId;
                    replica.Ports = started?.Ports ?? [];
                    replica.StartedAt = now;
                    replica.LastError = null;
                    ctx.Record(type, OperationSteps.Start, AwaitHealth(replica, release, now)
                        ? $"{what} started"
                        : $"{what} started (no health check: running counts as healthy)");

                    break;

                case ReplicaStates.Starting:
                    replica.LastError = error;
                    ctx.Record(type, OperationSteps.Start, $"{what} did not start: {error}");
                    if (replica.Attempts >= ctx.Options.MaxAttempts)
                    {
                        replica.State = ReplicaStates.Placed;
                        return $"{what} did not start after {replica.Attempts} attempts: {error}";
                    }

                    replica.State = ReplicaStates.Placed;
                    replica.NextAt = now + ScheduleRetry(ctx, OperationSteps.Start, replica.Attempts, $"starting {what}");
                    break;

                case ReplicaStates.Probing when ok:
                    replica.State = ReplicaStates.Healthy;
                    replica.HealthyAt = now;
                    replica.LastError = null;
                    ctx.Record(type, OperationSteps.Health, $"{what} is healthy");
                    break;

                case ReplicaStates.Probing:
                    var check2 = release.Spec.HealthCheck!;
                    var starting = now < replica.StartedAt + TimeSpan.FromSeconds(check2.StartPeriodSeconds);
                    if (!starting)
                    {
                        replica.ProbeFailures++;
                    }

                    replica.LastError = error;
                    replica.State = ReplicaStates.Started;
                    replica.NextAt = now + TimeSpan.FromSeconds(check2.IntervalSeconds);
                    ctx.Record(type, OperationSteps.Health, starting
                        ? $"{what}: probe failed within the start period (not counted): {error}"
                        : $"{what}: probe failed ({replica.ProbeFailures} of {check2.Retries}): {error}");
                    if (replica.ProbeFailures >= check2.Retries)
                    {
                        return $"{what} did not become healthy: {check2.Retries} probes failed, the last with: {error}";
                    }

                    break;

                case ReplicaStates.Stopping when ok:
                    replica.State = ReplicaStates.Stopped;
                    ctx.Record(type, OperationSteps.Stop, $"{what} stopped");
                    break;

                case ReplicaStates.Stopping:
                    replica.LastError = error;
                    replica.State = ReplicaStates.Healthy;
                    ctx.Record(type, OperationSteps.Stop, $"stopping {what} failed: {error}");
                    if (replica.Attempts >= ctx.Options.MaxAttempts)
                    {
                        return $"{what} could not be stopped after {replica.Attempts} attempts: {error}";
                    }

                    replica.NextAt = now + ScheduleRetry(ctx, OperationSteps.Stop, replica.Attempts, $"stopping {what}");
                    break;

                case ReplicaStates.Restarting when ok:
                    replica.StartedAt = now;
                    replica.ProbeFailures = 0;
                    replica.LastError = null;
                    AwaitHealth(replica, release, now);
                    ctx.Record(type, OperationSteps.Restart, $"{what} restarted");
                    break;

                case ReplicaStates.Restarting:
                    replica.LastError = error;
                    replica.State = ReplicaStates.Healthy;
                    replica.OperationId = null; // not restarted yet: it is picked again
                    ctx.Record(type, OperationSteps.Restart, $"restarting {what} failed: {error}");
                    if (replica.Attempts >= ctx.Options.MaxAttempts)
                    {
                        return $"{what} could not be restarted after {replica.Attempts} attempts: {error}";
                    }

                    replica.NextAt = now + ScheduleRetry(ctx, OperationSteps.Restart, replica.Attempts, $"restarting {what}");
                    break;

                case ReplicaStates.Retiring:
                    // Stopped or not, the container must go: remove it (by force if the stop failed).
                    if (!ok)
                    {
                        ctx.Record(type, OperationSteps.Retire, $"stopping {what} failed ({error}); removing it by force");
                    }

                    replica.Attempts = 0;
                    SendRemove(ctx, replica);
                    break;

                case ReplicaStates.Removing when ok:
                    replica.State = ReplicaStates.Removed;
                    ctx.Record(type, OperationSteps.Retire, $"{what} removed");
                    break;

                case ReplicaStates.Removing:
                    replica.LastError = error;
                    ctx.Record(type, OperationSteps.Retire, $"removing {what} failed: {error}");
                    if (replica.Attempts >= ctx.Options.MaxAttempts)
                    {
                        return $"{what} could not be removed after {replica.Attempts} attempts: {error}";
                    }

                    replica.NextAt = now + ScheduleRetry(ctx, OperationSteps.Retire, replica.Attempts, $"removing {what}");
                    break;
            }
        }

        return null;
    }

    static string? PlaceReplicas(AdvanceContext ctx, Release target, int count, List<ReplicaRow> current)
    {
        var op = ctx.Operation;
        var nodes = NodesNow(ctx);
        var placed = Placement.Place(count, target.Spec, nodes);
        // As many as fit: a surge of 2 where one fits still moves, and so does a rollback whose new replicas hold room.
        for (var fewer = count - 1; placed.Nodes is null && fewer > 0; fewer--)
        {
            if (Placement.Place(fewer, target.Spec, nodes) is { Nodes: not null } some)
            {
                placed = some;
            }
        }

        if (placed.Nodes is null)
        {
            if (ctx.Replicas.Any(r => r.IsLive && r.State != ReplicaStates.Healthy))
            {
                // Not a failure yet: replicas still on their way in or out change the room (an old one goes once a new
                // one is healthy), and each of their results advances the operation again. It counts once all settle,
                // and only wake-ups retry it then, after their delays.
                return null;
            }

            var attempts = Bump(op, OperationSteps.Place);
            ctx.Record(HistoryTypes.Result, OperationSteps.Place, $"placement failed: {placed.Problem}");
            if (attempts >= ctx.Options.MaxAttempts)
            {
                return $"placement failed {attempts} times: {placed.Problem}";
            }

            ctx.PlaceRetryAt = ctx.Now + ScheduleRetry(ctx, OperationSteps.Place, attempts, "placement");
            return null;
        }

        // Attempts count failures in a row: an earlier replica's wait for room does not shorten this one's.
        op.Attempts.Remove(OperationSteps.Place);
        var taken = ctx.Replicas.Where(r => r.IsLive && r.ReleaseId == target.Id).Select(r => r.Slot).ToHashSet();
        var slot = 0;
        foreach (var node in placed.Nodes)
        {
            while (taken.Contains(slot))
            {
                slot++;
            }

            taken.Add(slot);
            var replica = new ReplicaRow
            {
                Id = Guid.CreateVersion7(ctx.Now),
                AppId = op.AppId!.Value,
                ReleaseId = target.Id,
                Slot = slot,
                NodeId = node,
                Generation = ctx.Generations.Dequeue(),
                State = ReplicaStates.Placed,
                OperationId = op.Id,
                IsNew = true,
                Changed = true,
            };
            ctx.Replicas.Add(replica);
            current.Add(replica);
            ctx.Record(HistoryTypes.StepStarted, OperationSteps.Place, $"placed replica {slot} of release {target.Number} on {ctx.NodeName(node)} (generation {replica.Generation})");
        }

        return null;
    }

    /// <summary>The nodes as loaded, with the room of replicas removed in this advance (after the load) given back.</summary>
    static IReadOnlyList<PlacementNode> NodesNow(AdvanceContext ctx)
    {
        var removed = ctx.Replicas.Where(r => r.State == ReplicaStates.Removed).ToList();
        return removed.Count == 0 ? ctx.Nodes : [.. ctx.Nodes.Select(node =>
        {
            var gone = removed.Where(r => r.NodeId == node.Id).Select(r => ctx.Releases[r.ReleaseId].Spec).ToList();
            return gone.Count == 0 ? node : node with
            {
                ReservedCpus = node.ReservedCpus - gone.Sum(s => s.Resources?.Cpus ?? 0m),
                ReservedMemoryBytes = node.ReservedMemoryBytes - gone.Sum(s => (s.Resources?.MemoryMiB ?? 0) * 1024L * 1024L),
                AppReplicas = node.AppReplicas - gone.Count,
                Replicas = node.Replicas - gone.Count,
                HostPortsInUse = node.HostPortsInUse.Except(gone.SelectMany(s => s.Ports ?? []).Where(p => p.HostPort is not null)
                    .Select(p => Placement.PortKey(p.HostPort!.Value, p.Protocol))).ToHashSet(),
            };
        })];
    }

    static void PullOrRun(AdvanceContext ctx, Release target, ReplicaRow replica)
    {
        var pull = ctx.Pulls.Find(p => p.ReleaseId == replica.ReleaseId && p.NodeId == replica.NodeId);
        if (pull is null)
        {
            pull = new PullRow { ReleaseId = replica.ReleaseId, NodeId = replica.NodeId, State = PullStates.Pulling, IsNew = true, Changed = true };
            ctx.Pulls.Add(pull);
        }

        if (pull.State == PullStates.Pulled)
        {
            SendRun(ctx, target, replica);
        }
        else if (pull.State == PullStates.Pulling && pull.CommandId is null && pull.CommandSentAt != ctx.Now && Due(pull.NextAt, ctx.Now))
        {
            // (CommandSentAt is now when another replica on this node sent the pull in this same advance.)
            pull.Attempts++;
            pull.CommandSentAt = ctx.Now;
            pull.NextAt = null;
            pull.Changed = true;
            Bump(ctx.Operation, OperationSteps.Pull);
            var body = new PullImageBody(target.Spec.Image!, null);
            Send(ctx, pull.NodeId, CommandKinds.PullImage, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.PullImageBody), ctx.Options.PullTimeout,
                id => pull.CommandId = id, OperationSteps.Pull, $"pull {target.Spec.Image} on {ctx.NodeName(pull.NodeId)} (attempt {pull.Attempts})", target);
        }
    }

    static void SendRun(AdvanceContext ctx, Release release, ReplicaRow replica)
    {
        MarkSent(ctx, replica, ReplicaStates.Starting);
        Bump(ctx.Operation, OperationSteps.Start);
        var body = ReplicaSpecs.RunReplica(ctx.AppLabel, release, replica.Slot, replica.Generation);
        Send(ctx, replica.NodeId, CommandKinds.RunReplica, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.RunReplicaBody), ctx.Options.CommandTimeout,
            id => replica.CommandId = id, OperationSteps.Start,
            $"start replica {replica.Slot} of release {release.Number} on {ctx.NodeName(replica.NodeId)} (attempt {replica.Attempts})", release);
    }

    static void SendProbe(AdvanceContext ctx, Release release, ReplicaRow replica)
    {
        var check = release.Spec.HealthCheck!;
        MarkSent(ctx, replica, ReplicaStates.Probing, countsAttempt: false, claims: false);
        Bump(ctx.Operation, OperationSteps.Health);
        var body = ReplicaSpecs.Probe(ctx.AppLabel, release, replica.Slot, check);
        Send(ctx, replica.NodeId, CommandKinds.Probe, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.ProbeBody), ProbeTimeout(check),
            id => replica.CommandId = id, OperationSteps.Health, null);
    }

    static void Retire(AdvanceContext ctx, ReplicaRow replica, string why)
    {
        var release = ctx.Releases[replica.ReleaseId];
        replica.Attempts = 0;
        MarkSent(ctx, replica, ReplicaStates.Retiring, countsAttempt: false);
        Bump(ctx.Operation, OperationSteps.Retire);
        var body = new StopBody(ReplicaSpecs.Selector(ctx.AppLabel, release, replica.Slot), ctx.Options.StopGraceSeconds);
        Send(ctx, replica.NodeId, CommandKinds.Stop, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.StopBody), TimeoutOf(ctx, replica),
            id => replica.CommandId = id, OperationSteps.Retire, $"stop replica {replica.Slot} of release {release.Number} on {ctx.NodeName(replica.NodeId)} ({why})");
    }

    static void SendRemove(AdvanceContext ctx, ReplicaRow replica)
    {
        var release = ctx.Releases[replica.ReleaseId];
        MarkSent(ctx, replica, ReplicaStates.Removing, claims: false);
        var body = new RemoveBody(ReplicaSpecs.Selector(ctx.AppLabel, release, replica.Slot));
        Send(ctx, replica.NodeId, CommandKinds.Remove, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.RemoveBody), ctx.Options.CommandTimeout,
            id => replica.CommandId = id, OperationSteps.Retire, $"remove replica {replica.Slot} of release {release.Number} on {ctx.NodeName(replica.NodeId)}");
    }

    /// <summary>
    /// A command for the replica goes out in this advance: its new state, the attempt counted (unless it is not one: a
    /// probe, the first stop of a retirement), no wake-up until the result, and the replica claimed by this operation
    /// (a probe and a remove follow a command of the same operation that claimed it already).
    /// </summary>
    static void MarkSent(AdvanceContext ctx, ReplicaRow replica, string state, bool countsAttempt = true, bool claims = true)
    {
        replica.State = state;
        if (countsAttempt)
        {
            replica.Attempts++;
        }

        replica.CommandSentAt = ctx.Now;
        replica.NextAt = null;
        if (claims)
        {
            replica.OperationId = ctx.Operation.Id;
        }

        replica.Changed = true;
    }

    static void Send(AdvanceContext ctx, Guid nodeId, string kind, JsonElement body, TimeSpan lifetime, Action<Guid> sent, string step, string? message, Release? release = null)
    {
        ctx.Outgoing.Add(new CommandIntent(new CommandRequest(nodeId, kind, body, ctx.Operation.Id, lifetime), sent, release));
        if (message is not null)
        {
            ctx.Record(HistoryTypes.CommandSent, step, message);
        }
    }

    /// <summary>Stop: every live replica is stopped (kept, not removed), a few at a time; the app is marked stopped when all are.</summary>
    static void StopPass(AdvanceContext ctx)
    {
        var live = ctx.Replicas.Where(r => r.IsLive).ToList();
        foreach (var replica in live.Where(r => r.State is not (ReplicaStates.Stopped or ReplicaStates.Stopping) && !r.IsRetiring
                                                && r.CommandId is null && Due(r.NextAt, ctx.Now)))
        {
            SendStop(ctx, replica);
        }

        if (live.All(r => r.State == ReplicaStates.Stopped))
        {
            ctx.AppStopped = true;
            Finish(ctx);
            return;
        }

        SetStep(ctx, OperationSteps.Stop);
    }

    /// <summary>
    /// Rolling restart: replicas of the current release restart in place, <c>max(1, maxUnavailable)</c> at a time, each
    /// batch only once the one before is healthy again.
    /// </summary>
    static void RestartPass(AdvanceContext ctx)
    {
        var op = ctx.Operation;
        var release = ctx.Releases[op.TargetReleaseId!.Value];
        var live = ctx.Replicas.Where(r => r.IsLive && r.ReleaseId == release.Id && !r.IsRetiring).ToList();
        foreach (var replica in live.Where(r => r.OperationId == op.Id && r.State == ReplicaStates.Started && r.CommandId is null && Due(r.NextAt, ctx.Now)))
        {
            SendProbe(ctx, release, replica);
        }

        var inFlight = live.Count(r => r.OperationId == op.Id && r.State != ReplicaStates.Healthy);
        var batch = Math.Max(1, (release.Spec.Rollout ?? new ReleaseRollout()).MaxUnavailable);
        foreach (var replica in live.Where(r => r.OperationId != op.Id && r.CommandId is null && Due(r.NextAt, ctx.Now))
                     .OrderBy(r => r.Slot).Take(Math.Max(0, batch - inFlight)).ToList())
        {
            MarkSent(ctx, replica, ReplicaStates.Restarting);
            Bump(op, OperationSteps.Restart);
            var body = new ReplicaBody(ReplicaSpecs.Selector(ctx.AppLabel, release, replica.Slot));
            Send(ctx, replica.NodeId, CommandKinds.Restart, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.ReplicaBody), ctx.Options.CommandTimeout,
                id => replica.CommandId = id, OperationSteps.Restart, $"restart replica {replica.Slot} of release {release.Number} on {ctx.NodeName(replica.NodeId)}");
        }

        if (live.All(r => r.OperationId == op.Id && r.State == ReplicaStates.Healthy))
        {
            Finish(ctx);
            return;
        }

        SetStep(ctx, live.Any(r => r.State is ReplicaStates.Started or ReplicaStates.Probing) ? OperationSteps.Health : OperationSteps.Restart);
    }

    static void SendStop(AdvanceContext ctx, ReplicaRow replica)
    {
        var release = ctx.Releases[replica.ReleaseId];
        MarkSent(ctx, replica, ReplicaStates.Stopping);
        Bump(ctx.Operation, OperationSteps.Stop);
        var body = new StopBody(ReplicaSpecs.Selector(ctx.AppLabel, release, replica.Slot), ctx.Options.StopGraceSeconds);
        Send(ctx, replica.NodeId, CommandKinds.Stop, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.StopBody), TimeoutOf(ctx, replica),
            id => replica.CommandId = id, OperationSteps.Stop, $"stop replica {replica.Slot} of release {release.Number} on {ctx.NodeName(replica.NodeId)}");
    }

    /// <summary>Out of attempts: roll back to what ran before, or, already on the way back, fail.</summary>
    static bool Fail(AdvanceContext ctx, string reason)
    {
        var op = ctx.Operation;
        if (op.Kind is OperationKinds.Stop or OperationKinds.Restart or OperationKinds.Remove or OperationKinds.Heal && !op.CancelRequested)
        {
            // Nothing to go back to: the release stays; what was done stays done (a stopped replica stays stopped).
            op.Reason = reason;
            op.Status = OperationStatuses.Failed;
            Finish(ctx);
            return false;
        }

        if (op.Reverting)
        {
            var status = op.CancelRequested && op.Status == OperationStatuses.Running ? "cancelling" : "rolling back";
            op.Reason = op.Reason is null ? reason : $"{op.Reason}; {status} failed too: {reason}";
            op.Status = OperationStatuses.Failed;
            Finish(ctx);
            return false;
        }

        var back = op.FromReleaseId is { } from ? ctx.Releases[from] : null;
        op.Status = OperationStatuses.RollingBack;
        op.Reason = reason;
        op.TargetReleaseId = op.FromReleaseId;
        op.TargetReplicas = op.FromReplicas;
        op.Attempts.Remove(OperationSteps.Place);
        op.Deadline = ctx.Now + ctx.Options.MaxDuration;
        ctx.Record(HistoryTypes.Rollback, op.Step, back is null
            ? $"rolling back (the app ran nothing before, so every replica of this operation goes): {reason}"
            : $"rolling back to release {back.Number} with {op.FromReplicas} replica{(op.FromReplicas == 1 ? "" : "s")}: {reason}");
        return true;
    }

    static void Finish(AdvanceContext ctx)
    {
        var op = ctx.Operation;
        op.Status = op.Status switch
        {
            OperationStatuses.Failed => OperationStatuses.Failed,
            OperationStatuses.RollingBack => OperationStatuses.RolledBack,
            _ when op.CancelRequested => OperationStatuses.Cancelled,
            _ => OperationStatuses.Succeeded,
        };
        op.Step = OperationSteps.Done;
        op.FinishedAt = ctx.Now;
        op.WakeAt = null;
        ctx.AppReachedTarget = op.Status != OperationStatuses.Failed;
        ctx.AppRemoved = op.Kind == OperationKinds.Remove && op.Status == OperationStatuses.Succeeded;
        ctx.Record(HistoryTypes.Finished, OperationSteps.Done, op.Status switch
        {
            OperationStatuses.Succeeded => "succeeded",
            OperationStatuses.RolledBack => $"rolled back: {op.Reason}",
            OperationStatuses.Cancelled => "cancelled; the app is back where it was",
            _ => $"failed: {op.Reason}",
        });
    }

    static void SetStep(AdvanceContext ctx, List<ReplicaRow> current, bool leaving) => SetStep(ctx,
        current.Any(r => r.State == ReplicaStates.Placed && ctx.Pulls.Any(p => p.NodeId == r.NodeId && p.ReleaseId == r.ReleaseId && p.State != PullStates.Pulled))
            ? OperationSteps.Pull
            : current.Any(r => r.State is ReplicaStates.Placed or ReplicaStates.Starting or ReplicaStates.Stopped) ? OperationSteps.Start
            : current.Any(r => r.State is ReplicaStates.Started or ReplicaStates.Probing) ? OperationSteps.Health
            : leaving ? OperationSteps.Retire
            : OperationSteps.Place);

    static void SetStep(AdvanceContext ctx, string step)
    {
        if (step != ctx.Operation.Step)
        {
            ctx.Operation.Step = step;
            ctx.Record(HistoryTypes.StepStarted, step, $"step {step}");
        }
    }

    static DateTimeOffset? NextWake(AdvanceContext ctx)
    {
        var times = new List<DateTimeOffset> { ctx.Operation.Deadline };
        foreach (var replica in ctx.Replicas.Where(r => r.IsLive))
        {
            // A command sent in this advance has no id yet, but its timeout is a wake-up all the same.
            if ((replica.CommandId is not null || SentNow(ctx, replica)) && replica.CommandSentAt is { } sent)
            {
                times.Add(sent + TimeoutOf(ctx, replica));
            }
            else if (replica.NextAt is { } next)
            {
                times.Add(next);
            }
        }

        foreach (var pull in ctx.Pulls.Where(p => p.State == PullStates.Pulling))
        {
            if ((pull.CommandId is not null || pull.CommandSentAt == ctx.Now) && pull.CommandSentAt is { } sent)
            {
                times.Add(sent + ctx.Options.PullTimeout);
            }
            else if (pull.NextAt is { } next)
            {
                times.Add(next);
            }
        }

        if (ctx.PlaceRetryAt is { } place)
        {
            times.Add(place);
        }

        return times.Min();
    }

    static TimeSpan ScheduleRetry(AdvanceContext ctx, string step, int attempt, string what)
    {
        var delay = ctx.Options.RetryDelay(attempt);
        ctx.Record(HistoryTypes.RetryScheduled, step, $"retrying {what} in {delay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (attempt {attempt + 1} of {ctx.Options.MaxAttempts})",
            new Dictionary<string, object> { ["delayMs"] = (long)delay.TotalMilliseconds, ["attempt"] = attempt + 1 });
        return delay;
    }

    static TimeSpan TimeoutOf(AdvanceContext ctx, ReplicaRow replica) => replica.State switch
    {
        ReplicaStates.Stopping => ctx.Options.CommandTimeout + TimeSpan.FromSeconds(ctx.Options.StopGraceSeconds),
        ReplicaStates.Probing => ProbeTimeout(ctx.Releases[replica.ReleaseId].Spec.HealthCheck!),
        ReplicaStates.Retiring => ctx.Options.CommandTimeout + TimeSpan.FromSeconds(ctx.Options.StopGraceSeconds),
        _ => ctx.Options.CommandTimeout,
    };

    static TimeSpan ProbeTimeout(ReleaseHealthCheck check) => TimeSpan.FromSeconds(check.ProbeTimeoutSeconds + 30);

    static int Bump(OperationRow op, string step) => op.Attempts[step] = op.Attempts.GetValueOrDefault(step) + 1;

    /// <summary>A replica that has just (re)started: probed from a second on, or healthy at once without a health check. True when it will be probed.</summary>
    static bool AwaitHealth(ReplicaRow replica, Release release, DateTimeOffset now)
    {
        if (release.Spec.HealthCheck is { } check)
        {
            replica.State = ReplicaStates.Started;
            replica.NextAt = now + TimeSpan.FromSeconds(Math.Min(1, check.IntervalSeconds));
            return true;
        }

        replica.State = ReplicaStates.Healthy;
        replica.HealthyAt = now;
        return false;
    }

    static bool Due(DateTimeOffset? at, DateTimeOffset now) => at is null || at <= now;

    // A command sent in this advance has no id until the engine records it: never send a second one meanwhile.
    static bool SentNow(AdvanceContext ctx, ReplicaRow replica) => replica.CommandSentAt == ctx.Now;
}
