using System.Text.Json;
using Automator67.Contracts.Relay;

namespace Automator67.Bench;

/// <summary>
/// Issue 4's benchmark: a command's round trip (signed and enqueued → result applied by the control plane) through
/// real relays, for one relay and then for several on the same Docker Engine, beside the raw Engine time of the same
/// work measured in the same run; and what a relay costs at rest. Steps:
/// 1. sign up an account and enrol every node through the API (<see cref="RelayFleet"/>);
/// 2. one relay: start it, place its replica (<c>run-replica</c>, the sample image, no network), read its memory,
///    warm it up (8 s of commands, unmeasured), then the raw Docker baselines and the relay phases for <c>ping</c>
///    and <c>inspect</c>, closed loop, --senders per relay; and <c>ping</c> with a backlog (4 × --senders in flight,
///    so its queue is never empty);
/// 3. all relays: start the others, place their replicas, warm them up, the same phases with --senders per relay,
///    then every relay at rest after its load;
/// 4. dispose: relays stopped, containers removed, whatever happened.
/// </summary>
public sealed class RelayWorkload
{
    /// <summary>A window at rest that holds at least one heartbeat (Nodes__HeartbeatInterval, 10 s by default).</summary>
    static readonly TimeSpan RestWindow = TimeSpan.FromSeconds(15);

    /// <summary>After the load, before the rest window: the last results and the relays' back-off are not rest.</summary>
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    /// <summary>Unmeasured commands through newly started relays before their first phase.</summary>
    static readonly TimeSpan RelayWarmup = TimeSpan.FromSeconds(8);

    /// <summary>The raw baselines are quick and steady: a short phase of their own, whatever --duration says.</summary>
    static readonly TimeSpan RawWarmup = TimeSpan.FromSeconds(1);

    static readonly TimeSpan RawDuration = TimeSpan.FromSeconds(3);

    /// <summary>The backlog phase keeps this many times the senders in flight, so the relay's queue is never empty.</summary>
    const int BacklogFactor = 4;

    static readonly JsonElement EmptyBody = JsonDocument.Parse("{}").RootElement;

    /// <summary>Each node's one replica, the container that <c>inspect</c> reads.</summary>
    static readonly ReplicaSelector Replica = new("bench", "r1", 0);

    readonly BenchSettings _settings;
    readonly RelayFleet _fleet;
    readonly CommandRoundTrip _commands;
    readonly CpuMeter _cpu;
    readonly List<CommandPhase> _phases = [];
    readonly List<RelayRest> _rest = [];

    RelayWorkload(BenchSettings settings, RelayFleet fleet, CommandRoundTrip commands, CpuMeter cpu)
    {
        _settings = settings;
        _fleet = fleet;
        _commands = commands;
        _cpu = cpu;
    }

    public static async Task<RelayResult> RunAsync(BenchSettings settings, RunResources resources, ControlPlaneProcess controlPlane, HttpClient http, CancellationToken ct)
    {
        var owner = await BenchApi.SignUpAsync(http, settings.RunId, "relays", ct);
        await using var fleet = await RelayFleet.EnrolAsync(settings, owner, settings.Relays, ct);
        await using var commands = CommandRoundTrip.Create(settings, resources, controlPlane);
        var cpu = new CpuMeter(controlPlane, new DatabaseCpu(settings.Postgres, settings.DatabaseName), () => [.. fleet.Running.Select(r => r.Process!.Id)]);
        var workload = new RelayWorkload(settings, fleet, commands, cpu);
        await workload.MeasureAsync(1, ct);
        if (settings.Relays > 1)
        {
            await workload.MeasureAsync(settings.Relays, ct);
        }

        var problems = fleet.Relays.Select(r => r.Process?.Problems ?? (0, [])).ToList();
        return new RelayResult(settings.SendersPerRelay, workload._phases, workload._rest, problems.Sum(p => p.Count), [.. problems.SelectMany(p => p.Last).TakeLast(5)]);
    }

    /// <summary>Steps 2 and 3 for <paramref name="relays"/> relays.</summary>
    async Task MeasureAsync(int relays, CancellationToken ct)
    {
        var first = _fleet.Running.Count == 0;
        await _fleet.StartAsync(relays, ct);
        await PlaceReplicasAsync(ct);
        if (first)
        {
            _rest.Add(Memory("1 relay, just started"));
        }

        var nodes = _fleet.Running.Select(r => r.NodeId).ToArray();
        var senders = _settings.SendersPerRelay;
        var inFlight = relays * senders;
        var inspect = JsonSerializer.SerializeToElement(new ReplicaBody(Replica), RelayJsonContext.Default.ReplicaBody);
        // Each relay has its own senders; the backlog phase's extra senders all go to the one relay.
        Guid Node(int worker) => nodes[worker / senders % nodes.Length];
        Task<string?> Ping(int worker, CancellationToken token) => _commands.RunAsync(Node(worker), CommandKinds.Ping, EmptyBody, token);
        Task<string?> Inspect(int worker, CancellationToken token) => _commands.RunAsync(Node(worker), CommandKinds.Inspect, inspect, token);

        // New relays run their code paths for the first time: a phase's own short warm-up leaves most of their JIT
        // (a few CPU seconds each on this machine) inside the first measured phase.
        var round = 0;
        _ = await ClosedLoop.RunAsync(inFlight, (w, token) => Interlocked.Increment(ref round) % 2 == 0 ? Ping(w, token) : Inspect(w, token), RelayWarmup, ct);
        using var docker = new RawDocker(_settings.DockerEndpoint, relays, senders);
        await PhaseAsync("ping", "raw Docker", null, relays, inFlight, docker.PingAsync, RawWarmup, RawDuration, ct);
        await PhaseAsync("ping", "relay", null, relays, inFlight, Ping, _settings.Warmup, _settings.Duration, ct);
        if (relays == 1)
        {
            // A relay finds its queue empty between results here and backs off; with a backlog it never does.
            await PhaseAsync("ping", "relay", "backlog", relays, BacklogFactor * inFlight, Ping, _settings.Warmup, _settings.Duration, ct);
        }

        await PhaseAsync("inspect", "raw Docker", null, relays, inFlight, (w, token) => docker.InspectAsync(w, Node(w), Replica, token), RawWarmup, RawDuration, ct);
        await PhaseAsync("inspect", "relay", null, relays, inFlight, Inspect, _settings.Warmup, _settings.Duration, ct);
        _rest.Add(Memory($"{relays} relay{(relays == 1 ? "" : "s")}, right after the load"));
        if (relays == _settings.Relays)
        {
            // Steady state: every relay past its start-up and its load, as a fleet waiting for work would be.
            await Task.Delay(Settle, ct);
            _rest.Add(await MeasureRestAsync($"{relays} relay{(relays == 1 ? "" : "s")}, after the load", ct));
        }
    }

    async Task PhaseAsync(string operation, string path, string? note, int relays, int inFlight, Func<int, CancellationToken, Task<string?>> send, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        if (warmup > TimeSpan.Zero)
        {
            _ = await ClosedLoop.RunAsync(inFlight, send, warmup, ct);
        }

        _ = _commands.TakeAppliedLatencies();
        var before = await _cpu.ReadAsync(ct);
        var load = await ClosedLoop.RunAsync(inFlight, send, duration, ct);
        var after = await _cpu.ReadAsync(ct);
        var applied = _commands.TakeAppliedLatencies();
        _phases.Add(new CommandPhase(operation, path, note, relays, inFlight, load, CpuMeter.Between(before, after), path == "relay" ? applied : null));
    }

    /// <summary>One replica per running relay, through the same round trip (run-replica is idempotent: a relay that has it finds it).</summary>
    async Task PlaceReplicasAsync(CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToElement(
            new RunReplicaBody(Replica, 1, $"{_settings.SampleImage}:v1", null, null, null, new ResourceLimits(null, 64 * 1024 * 1024, null), new RestartPolicySpec("no"), null, null, "none"),
            RelayJsonContext.Default.RunReplicaBody);
        var failures = await Task.WhenAll(_fleet.Running.Select(r => _commands.RunAsync(r.NodeId, CommandKinds.RunReplica, body, ct)));
        if (failures.FirstOrDefault(f => f is not null) is { } failure)
        {
            throw new InvalidOperationException($"a relay could not start its replica of {_settings.SampleImage}:v1 ({failure}); is the sample image built (./a67 up)?");
        }
    }

    /// <summary>Each running relay's CPU over a window without commands (% of one core), and its resident memory at the end.</summary>
    async Task<RelayRest> MeasureRestAsync(string when, CancellationToken ct)
    {
        var relays = _fleet.Running;
        var machine = MachineCpu.Read();
        var before = relays.Select(r => ProcFiles.CpuTicks(r.Process!.Id) ?? 0).ToArray();
        await Task.Delay(RestWindow, ct);
        var after = relays.Select(r => ProcFiles.CpuTicks(r.Process!.Id) ?? 0).ToArray();
        var ticksPerCore = (double)(MachineCpu.Read().Total - machine.Total) / Environment.ProcessorCount;
        var percent = before.Zip(after, (b, a) => 100 * (a - b) / ticksPerCore).ToArray();
        return Memory(when) with { CpuPercentMean = percent.Average(), CpuPercentMax = percent.Max(), Window = RestWindow };
    }

    RelayRest Memory(string when)
    {
        var resident = _fleet.Running.Select(r => (ProcFiles.ResidentBytes(r.Process!.Id) ?? 0) / 1024d / 1024).ToArray();
        return new RelayRest(when, resident.Length, double.NaN, double.NaN, resident.Average(), resident.Max(), TimeSpan.Zero);
    }
}

/// <summary>
/// One measured phase of the relay workload: an operation (ping, inspect) by a path (through the relays, or the raw
/// Docker Engine from the bench) with so many relays and commands in flight; for the relay path also the product's own
/// latency of each result (created → applied, from <c>a67.relay_commands</c>).
/// </summary>
public sealed record CommandPhase(string Operation, string Path, string? Note, int Relays, int InFlight, LoopResult Load, CpuUse Cpu, Timings? Applied)
{
    public string Name => (Path == "relay" ? $"{Operation}, {Relays} relay{(Relays == 1 ? "" : "s")}" : $"{Operation}, raw Docker") + (Note is null ? "" : $", {Note}");

    /// <summary>Operations that ended, failed ones included: what CPU per command divides by.</summary>
    public int Done => Load.Timings.Count + Load.Failed;
}

/// <summary>The relays at rest: CPU (% of one core; NaN when not measured) and resident memory (MiB), mean and max over the relays running.</summary>
public sealed record RelayRest(string When, int Relays, double CpuPercentMean, double CpuPercentMax, double ResidentMiBMean, double ResidentMiBMax, TimeSpan Window);

/// <summary>Everything the relay workload measured, and the warnings the relays logged.</summary>
public sealed record RelayResult(int SendersPerRelay, IReadOnlyList<CommandPhase> Phases, IReadOnlyList<RelayRest> Rest, int RelayProblems, IReadOnlyList<string> LastRelayProblems);
