using Automator67.Contracts.Relay;
using Docker.DotNet.Models;

namespace Automator67.Bench;

/// <summary>
/// Issue 5's benchmark: the time from <c>POST /api/apps/{id}/deployments</c> until every replica is healthy, for each
/// of --sizes (1, 10, 50 replicas) over <see cref="Relays"/> real relays on this host's Engine, beside Docker Swarm
/// deploying the same image with the same health check on the same Engine, in the same run; then the engine's own
/// ceiling with the Docker work taken out (<see cref="EngineCeiling"/>). Steps:
/// 1. sign up an account; a bridge network for the run's replicas; enrol and start the relays (each with
///    <c>Relay__BridgeNetwork</c> set to it, otherwise their defaults) and wait until all four nodes are Ready;
/// 2. join or make a swarm (<see cref="DockerSwarm"/>); if Swarm cannot run here, say why and measure only Automator67;
/// 3. warm up, unmeasured: one deploy of one replica per relay by each side (a relay's first run-replica, pull
///    and probe run its code for the first time), each removed again;
/// 4. for each size: Automator67 deploys, then removes the app (checking the Engine has none of its containers left);
///    then Swarm creates the service (given twice Automator67's time, at least 30 s, to have every task healthy),
///    then removes it (waiting until its containers are gone); each side's CPU by party is read over its deploy;
/// 5. the ceiling; 6. dispose: swarm left as found, relays stopped, the run's containers and network removed.
/// </summary>
public static class DeployWorkload
{
    public const int Relays = 4;

    /// <summary>
    /// Swarm gets this many times Automator67's time for the same size (at least <see cref="MinSwarmLimit"/>) to have
    /// every task healthy; past it, the comparison is a bound ("Swarm took more than twice as long"), and the bench goes on.
    /// </summary>
    const int SwarmLimitFactor = 2;

    static readonly TimeSpan MinSwarmLimit = TimeSpan.FromSeconds(30);

    /// <summary>Between two measured deploys: the Engine's work for the last one (removals) has ended, its echoes have not.</summary>
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    public static async Task<DeployResult> RunAsync(BenchSettings settings, RunResources resources, ControlPlaneProcess controlPlane, HttpClient http, CancellationToken ct)
    {
        var owner = await BenchApi.SignUpAsync(http, settings.RunId, "deploys", ct);
        await using var network = await ReplicaNetwork.CreateAsync(settings, ct);
        await using var fleet = await RelayFleet.EnrolAsync(settings, owner, Relays, ct, new Dictionary<string, string> { ["Relay__BridgeNetwork"] = network.Name });
        await fleet.StartAsync(Relays, ct);
        await owner.WaitForReadyNodesAsync(Relays, TimeSpan.FromSeconds(60), ct);
        await using var swarm = await DockerSwarm.JoinAsync(settings, ct);

        var image = $"{settings.SampleImage}:v1";
        var ours = new AppDeployments(owner, image);
        var theirs = swarm.Problem is null ? new SwarmServices(swarm, settings, image) : null;
        var cpu = new CpuMeter(controlPlane, new DatabaseCpu(settings.Postgres, settings.DatabaseName), () => [.. fleet.Running.Select(r => r.Process!.Id)]);
        var leftBehind = new List<string>();

        async Task<DeployTiming> OursAsync(string name, int replicas)
        {
            var before = await cpu.ReadAsync(ct);
            var (app, timing) = await ours.DeployAsync(name, replicas, ct);
            var used = CpuMeter.Between(before, await cpu.ReadAsync(ct));
            var removed = await ours.RemoveAsync(app, ct);
            var left = await swarm.Docker.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.App}={app:N}"] = true } },
            }, ct);
            if (left.Count > 0)
            {
                leftBehind.Add($"{left.Count} container(s) of app {name} after its remove operation succeeded");
            }

            await Task.Delay(Settle, ct);
            return timing with { Removed = removed, Cpu = used };
        }

        async Task<DeployTiming?> TheirsAsync(string name, int replicas, TimeSpan limit)
        {
            if (theirs is null)
            {
                return null;
            }

            var before = await cpu.ReadAsync(ct);
            var (service, timing) = await theirs.DeployAsync(name, replicas, limit, ct);
            var used = CpuMeter.Between(before, await cpu.ReadAsync(ct));
            var removed = await theirs.RemoveAsync(service, ct);
            await Task.Delay(Settle, ct);
            return timing with { Removed = removed, Cpu = used };
        }

        var warmup = (Ours: await OursAsync("warmup", Relays), Theirs: await TheirsAsync($"a67b-{settings.RunId}-warmup", Relays, MinSwarmLimit));
        var rows = new List<DeployRow>();
        foreach (var size in settings.Sizes)
        {
            var ourTiming = await OursAsync($"deploy-{size}", size);
            var limit = TimeSpan.FromTicks(Math.Max(MinSwarmLimit.Ticks, SwarmLimitFactor * ourTiming.Healthy.Ticks));
            rows.Add(new DeployRow(size, ourTiming, await TheirsAsync($"a67b-{settings.RunId}-{size}", size, limit)));
        }

        var ceiling = await EngineCeiling.RunAsync(settings, resources, controlPlane, http, ct);
        var problems = fleet.Relays.Select(r => r.Process?.Problems ?? (0, [])).ToList();
        return new DeployResult(rows, new DeployRow(Relays, warmup.Ours, warmup.Theirs), swarm.Problem, swarm.Initialised, leftBehind, ceiling,
            problems.Sum(p => p.Count), [.. problems.SelectMany(p => p.Last).TakeLast(5)]);
    }
}

/// <summary>One size: Automator67's deploy and Swarm's (null when Swarm cannot run here).</summary>
public sealed record DeployRow(int Replicas, DeployTiming Ours, DeployTiming? Theirs)
{
    /// <summary>Automator67's time over Swarm's; above 1, Automator67 is slower.</summary>
    public double Ratio => Theirs is { Failure: null } && Ours.Failure is null ? Ours.Healthy / Theirs.Healthy : double.NaN;
}

/// <summary>Everything the deploy workload measured, and what went wrong on the way.</summary>
public sealed record DeployResult(
    IReadOnlyList<DeployRow> Rows,
    DeployRow Warmup,
    string? SwarmProblem,
    bool SwarmInitialised,
    IReadOnlyList<string> LeftBehind,
    CeilingResult Ceiling,
    int RelayProblems,
    IReadOnlyList<string> LastRelayProblems);
