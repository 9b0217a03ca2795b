using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Relay;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// Plays the engine around <see cref="ConvergeMachine"/> without a database: keeps the rows one advance leaves for the
/// next (only live replicas are handed over, as the engine loads them), records each command under its id the way the
/// engine does, reserves what live replicas hold on their nodes, and moves the app when the operation ends well. The test
/// plays the relay: it answers, fails or ignores the commands sent, and moves the clock.
/// </summary>
sealed class ConvergeHarness
{
    public static readonly DateTimeOffset Start = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);
    static readonly Guid Account = Guid.NewGuid();
    readonly List<PlacementNode> _nodes = [];
    long _generation = 100;
    int _releaseNumber;

    public ConvergeHarness(int nodes = 2, Action<OperationOptions>? options = null)
    {
        for (var i = 0; i < nodes; i++)
        {
            AddNode(((char)('a' + i)).ToString());
        }

        options?.Invoke(Options);
    }

    public Guid AppId { get; } = Guid.NewGuid();

    public DateTimeOffset Now { get; set; } = Start;

    public OperationOptions Options { get; } = new()
    {
        MaxAttempts = 3,
        FirstRetryDelay = TimeSpan.FromSeconds(2),
        BackoffFactor = 2,
        MaxRetryDelay = TimeSpan.FromSeconds(5),
        PullTimeout = TimeSpan.FromMinutes(10),
        CommandTimeout = TimeSpan.FromMinutes(2),
        StopGraceSeconds = 10,
        MaxDuration = TimeSpan.FromMinutes(30),
    };

    public IReadOnlyList<PlacementNode> Nodes => _nodes;

    public Dictionary<Guid, Release> Releases { get; } = [];

    /// <summary>Every replica ever placed, removed ones too.</summary>
    public List<ReplicaRow> Replicas { get; } = [];

    public List<PullRow> Pulls { get; } = [];

    public Dictionary<Guid, CommandState> Outcomes { get; } = [];

    /// <summary>Every command sent, in order.</summary>
    public List<SentCommand> Sent { get; } = [];

    /// <summary>The operation's whole history, across advances.</summary>
    public List<HistoryEntry> History { get; } = [];

    public OperationRow Operation { get; private set; } = null!;

    /// <summary>What the app row says it runs.</summary>
    public (Guid? Release, int Replicas) App { get; private set; }

    public int Advances { get; private set; }

    public PlacementNode AddNode(string name, IReadOnlyDictionary<string, string>? labels = null, int cpus = 4, long memoryBytes = 8L << 30)
    {
        var node = new PlacementNode(Guid.NewGuid(), name, labels ?? new Dictionary<string, string>(), cpus, memoryBytes, 0, 0, 0, 0, new HashSet<string>());
        _nodes.Add(node);
        return node;
    }

    /// <summary>The sample-like spec: one port, 32 MiB, an HTTP check probed every second, surge 1.</summary>
    public static ReleaseSpec Spec(string tag, int replicas = 3, ReleaseHealthCheck? check = null, bool noCheck = false, ReleaseRollout? rollout = null) =>
        new ReleaseSpec(
            $"127.0.0.1:5000/a67/sample:{tag}",
            Env: new Dictionary<string, string> { ["PORT"] = "8080" },
            Ports: [new ReleasePort(8080)],
            Resources: new ReleaseResources(MemoryMiB: 32),
            Replicas: replicas,
            HealthCheck: noCheck ? null : check ?? new ReleaseHealthCheck(ReleaseHealthCheck.Http, 8080, "/healthz", IntervalSeconds: 1, TimeoutSeconds: 1, Retries: 3),
            Rollout: rollout ?? new ReleaseRollout(1, 0)).Normalize();

    public Release AddRelease(ReleaseSpec spec)
    {
        var release = new Release(Guid.NewGuid(), AppId, ++_releaseNumber, spec, Now, Account);
        Releases[release.Id] = release;
        return release;
    }

    /// <summary>Replicas a finished operation left running: healthy, spread over the nodes in turn.</summary>
    public void Running(Release release, int count)
    {
        for (var slot = 0; slot < count; slot++)
        {
            Replicas.Add(new ReplicaRow
            {
                Id = Guid.NewGuid(),
                AppId = AppId,
                ReleaseId = release.Id,
                Slot = slot,
                NodeId = _nodes[slot % _nodes.Count].Id,
                Generation = ++_generation,
                State = ReplicaStates.Healthy,
                StartedAt = Now,
                HealthyAt = Now,
                ContainerId = $"c{_generation}",
            });
        }

        App = (release.Id, count);
    }

    /// <summary>A new operation toward <paramref name="target"/> from what the app runs, as the endpoints insert it.</summary>
    public OperationRow Begin(Release? target, int replicas, string kind = OperationKinds.Deploy)
    {
        Operation = new OperationRow
        {
            Id = Guid.NewGuid(),
            AccountId = Account,
            AppId = AppId,
            AppName = "web",
            Kind = kind,
            Status = OperationStatuses.Pending,
            TargetReleaseId = target?.Id,
            TargetReplicas = replicas,
            FromReleaseId = App.Release,
            FromReplicas = App.Replicas,
            Step = OperationSteps.Place,
            Attempts = [],
            CancelRequested = false,
            Reason = null,
            Deadline = Now + Options.MaxDuration,
            WakeAt = Now,
            ScheduledWakeAt = null,
            CreatedAt = Now,
        };
        return Operation;
    }

    /// <summary>What <c>POST /api/operations/{id}/cancel</c> writes: back to where the app was, marked cancelled.</summary>
    public void Cancel()
    {
        Operation.CancelRequested = true;
        Operation.Status = OperationStatuses.Running;
        Operation.TargetReleaseId = Operation.FromReleaseId;
        Operation.TargetReplicas = Operation.FromReplicas;
        Operation.Reason = "cancelled on request";
        Operation.Deadline = Now + Options.MaxDuration;
    }

    /// <summary>One advance at <see cref="Now"/>, as the engine runs it.</summary>
    public AdvanceContext Advance()
    {
        Advances++;
        var live = Replicas.Where(r => r.IsLive).ToList();
        var ctx = new AdvanceContext
        {
            Operation = Operation,
            AppLabel = AppId.ToString("N"),
            Now = Now,
            Options = Options,
            Replicas = live,
            Pulls = Pulls,
            Commands = Outcomes,
            Releases = Releases,
            Nodes = [.. _nodes.Select(n => Reserved(n, live))],
            Generations = new Queue<long>(Enumerable.Range(1, Math.Max(1, Math.Max(Operation.TargetReplicas, Operation.FromReplicas))).Select(_ => ++_generation)),
            NodeNames = _nodes.ToDictionary(n => n.Id, n => n.Name),
        };
        if (!OperationStatuses.IsActive(Operation.Status))
        {
            return ctx;
        }

        ConvergeMachine.Advance(ctx);
        foreach (var intent in ctx.Outgoing)
        {
            // As the engine does once CommandSender has recorded it under a new id.
            var id = Guid.CreateVersion7(Now);
            intent.Sent(id);
            Sent.Add(new SentCommand(id, intent.Request, Now));
            Outcomes[id] = new CommandState(CommandStatuses.Pending, null);
        }

        Replicas.AddRange(live.Where(r => !Replicas.Contains(r)));
        History.AddRange(ctx.History);
        if (ctx.AppReachedTarget)
        {
            App = (Operation.TargetReleaseId, Operation.TargetReleaseId is null ? 0 : Operation.TargetReplicas);
        }

        return ctx;
    }

    /// <summary>Commands sent and not answered yet (of one kind, if given).</summary>
    public List<SentCommand> Unanswered(string? kind = null) =>
        [.. Sent.Where(c => Outcomes[c.Id].Status == CommandStatuses.Pending && (kind is null || c.Request.Kind == kind))];

    public void Succeed(SentCommand command)
    {
        JsonElement? output = command.Request.Kind == CommandKinds.RunReplica
            ? JsonSerializer.SerializeToElement(new RunReplicaOutput($"container-{command.Id:N}", "name", true, [new PortBinding(8080, 30000 + Sent.IndexOf(command))]),
                RelayJsonContext.Default.RunReplicaOutput)
            : null;
        Outcomes[command.Id] = new CommandState(CommandStatuses.Succeeded,
            new CommandResult(command.Id, Operation.Id, command.Request.Kind, ResultStatuses.Succeeded, null, output, 5));
    }

    public void Fail(SentCommand command, string error) =>
        Outcomes[command.Id] = new CommandState(CommandStatuses.Failed, new CommandResult(command.Id, Operation.Id, command.Request.Kind, ResultStatuses.Failed, error, null, 5));

    /// <summary>
    /// A relay that does everything asked and an engine that advances on each result and each wake-up, until the
    /// operation ends (or <paramref name="until"/> holds); <paramref name="check"/> runs after every advance, and
    /// <paramref name="fail"/> picks the commands that fail. Returns the number of advances so far.
    /// </summary>
    public int RunToEnd(Action? check = null, Func<SentCommand, bool>? fail = null, Func<bool>? until = null)
    {
        for (var i = 0; i < 500 && OperationStatuses.IsActive(Operation.Status) && until?.Invoke() != true; i++)
        {
            var next = Unanswered().FirstOrDefault();
            if (next is not null)
            {
                Now += TimeSpan.FromMilliseconds(100);
                if (fail?.Invoke(next) == true)
                {
                    Fail(next, next.Request.Kind switch
                    {
                        CommandKinds.Probe => "connection refused",
                        CommandKinds.PullImage => "manifest unknown",
                        _ => "engine unavailable",
                    });
                }
                else
                {
                    Succeed(next);
                }
            }
            else if (Operation.WakeAt is { } wake && wake > Now)
            {
                Now = wake;
            }

            Advance();
            check?.Invoke();
        }

        return Advances;
    }

    public static T Body<T>(SentCommand command, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => command.Request.Body.Deserialize(type)!;

    public ReplicaRow ReplicaOf(SentCommand command)
    {
        var selector = command.Request.Kind switch
        {
            CommandKinds.RunReplica => Body(command, RelayJsonContext.Default.RunReplicaBody).Replica,
            CommandKinds.Probe => Body(command, RelayJsonContext.Default.ProbeBody).Replica,
            CommandKinds.Stop => Body(command, RelayJsonContext.Default.StopBody).Replica,
            CommandKinds.Remove => Body(command, RelayJsonContext.Default.RemoveBody).Replica,
            _ => throw new ArgumentException($"a {command.Request.Kind} command is about no replica", nameof(command)),
        };
        return Replicas.Single(r => r.IsLive && r.NodeId == command.Request.NodeId && r.Slot == selector.Replica
            && Releases[r.ReleaseId].Number.ToString(System.Globalization.CultureInfo.InvariantCulture) == selector.Release);
    }

    public List<ReplicaRow> Live(Release release) => [.. Replicas.Where(r => r.IsLive && r.ReleaseId == release.Id)];

    /// <summary>Replicas of the release that serve: healthy and not on their way out.</summary>
    public int Serving(Release release) => Replicas.Count(r => r.ReleaseId == release.Id && r.State == ReplicaStates.Healthy);

    public List<HistoryEntry> Entries(string type) => [.. History.Where(h => h.Type == type)];

    PlacementNode Reserved(PlacementNode node, List<ReplicaRow> live)
    {
        var here = live.Where(r => r.NodeId == node.Id).ToList();
        return node with
        {
            ReservedCpus = here.Sum(r => Releases[r.ReleaseId].Spec.Resources?.Cpus ?? 0m),
            ReservedMemoryBytes = here.Sum(r => (Releases[r.ReleaseId].Spec.Resources?.MemoryMiB ?? 0) * 1024L * 1024L),
            AppReplicas = here.Count(r => r.AppId == AppId),
            Replicas = here.Count,
            HostPortsInUse = here.SelectMany(r => Releases[r.ReleaseId].Spec.Ports ?? []).Where(p => p.HostPort is not null)
                .Select(p => Placement.PortKey(p.HostPort!.Value, p.Protocol)).ToHashSet(),
        };
    }
}

/// <summary>A command the machine sent: the id recording gave it, and when.</summary>
sealed record SentCommand(Guid Id, CommandRequest Request, DateTimeOffset At);
