using static Automator67.Bench.Format;

namespace Automator67.Bench;

/// <summary>Prints the deploy workload: Automator67 beside Swarm per size, where the time and the CPU went, and the engine's ceiling.</summary>
public static class DeployReport
{
    public static void Print(DeployResult result)
    {
        Console.WriteLine($"deployments: POST …/deployments until every replica is healthy, over {DeployWorkload.Relays} relays, beside Docker Swarm on the same Engine");
        Console.WriteLine($"  (sample image v1, 32 MiB, automatic host port, HTTP /healthz every 1 s; both sides polled every {AppDeployments.PollInterval.TotalMilliseconds:0} ms)");
        if (result.SwarmProblem is { } problem)
        {
            Console.WriteLine($"  Swarm could not run on this Engine, so it has no figures: {problem}");
        }
        else
        {
            Console.WriteLine($"  Swarm: {(result.SwarmInitialised ? "a swarm this run made (docker swarm init --advertise-addr 127.0.0.1), left at the end" : "the swarm the Engine was in already")}");
        }

        Console.WriteLine($"  {"replicas",8}{"Automator67 s",15}{"Swarm s",10}{"ratio",9}");
        foreach (var row in result.Rows)
        {
            var ratio = row.Ours.Failure is null && row.Theirs is { TimedOut: true } theirs ? $"< {X(row.Ours.Healthy / theirs.Healthy)}" : X(row.Ratio);
            Line($"  {row.Replicas,8}{Seconds(row.Ours),15}{Seconds(row.Theirs),10}{ratio,9}");
        }

        foreach (var failure in result.Rows.SelectMany(r => new[] { ("Automator67", r.Replicas, r.Ours.Failure), ("Swarm", r.Replicas, r.Theirs?.Failure) }).Where(f => f.Item3 is not null))
        {
            Console.WriteLine($"  failed: {failure.Item1}, {failure.Item2} replicas: {Shorten(failure.Item3!)}");
        }

        Console.WriteLine();
        Console.WriteLine("  where the time went, s from the request (Automator67: its operation's history, its own clock; Swarm: the bench's polls)");
        Console.WriteLine($"  {"",12}{"Automator67",-56}{"Swarm",-30}");
        Console.WriteLine($"  {"replicas",12}{"last running",14}{"last healthy",14}{"finished",10}{"commands",10}{"removed",8}{"all running",14}{"extra tasks",13}{"removed",9}");
        foreach (var row in result.Rows.Prepend(result.Warmup))
        {
            var (ours, theirs) = (row.Ours, row.Theirs);
            var label = row == result.Warmup ? $"{row.Replicas} (warm-up)" : row.Replicas.ToString(Invariant);
            var extra = theirs is null ? "-" : theirs.ExtraTasks.ToString(Invariant);
            Line($"  {label,12}{S(ours.LastRunning),14}{S(ours.LastHealthy),14}{S(ours.Finished),10}{ours.Commands,10}{S(ours.Removed),8}{S(theirs?.LastRunning),14}{extra,13}{S(theirs?.Removed),9}");
        }

        Console.WriteLine();
        Console.WriteLine("  CPU seconds over each deploy, by party (Engine = dockerd, containerd and the helpers they reap; rest = containers and anything else)");
        Console.WriteLine($"  {"deploy",-22}{"relays",8}{"control",9}{"Postgres",10}{"Engine",8}{"Azurite",9}{"bench",7}{"rest",7}{"all",7}{"busy",6}");
        foreach (var row in result.Rows)
        {
            Cpu($"Automator67, {row.Replicas}", row.Ours.Cpu);
            Cpu($"Swarm, {row.Replicas}", row.Theirs?.Cpu);
        }

        foreach (var left in result.LeftBehind)
        {
            Console.WriteLine($"  note: {left}");
        }

        Console.WriteLine($"  the deploy relays logged {result.RelayProblems} warning(s) or error(s){(result.RelayProblems > 0 ? "; the last:" : "")}");
        foreach (var line in result.LastRelayProblems)
        {
            Console.WriteLine($"    {Shorten(line)}");
        }

        Console.WriteLine();
        Ceiling(result.Ceiling);
    }

    static void Ceiling(CeilingResult c)
    {
        var n = c.Counts;
        var steps = (double)n.Steps;
        Console.WriteLine($"engine ceiling: orchestration steps with the Docker work taken out ({EngineCeiling.Nodes} stub relays answering every command at once;");
        Console.WriteLine($"  {EngineCeiling.Apps} loops, each creating an app, deploying {EngineCeiling.Replicas} replicas and removing it; {c.Seconds:0.#} s counted after {c.Warmup.TotalSeconds:0} s)");
        Line($"  steps (commands sent, answered, applied and advanced on)  {PerSecond(n.Steps / c.Seconds)}/s: {string.Join(", ", n.StepsByKind.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}; {n.FailedSteps} failed");
        Line($"  advances (step-machine transactions)  about {PerSecond((n.Steps + n.WakeUps) / c.Seconds)}/s: one per applied result, plus {n.WakeUps} scheduled or first advances");
        Line($"  operations  {PerSecond((n.Deploys + n.Removes) / c.Seconds)}/s succeeded ({n.Deploys} deploys, {n.Removes} removes, {n.FailedOperations} not succeeded); replicas healthy {PerSecond(n.HealthyReplicas / c.Seconds)}/s");
        var failed = c.CycleFailures.Values.Sum();
        Line($"  cycles (create, deploy, remove) that ended: {c.Cycles.Count}, p50 {c.Cycles.P50 / 1000:0.0} s, {failed} failed{(failed > 0 ? ": " + string.Join(", ", c.CycleFailures.Select(f => $"{Shorten(f.Key, 120)} x{f.Value}")) : "")}");
        var u = c.Cpu;
        Line($"  CPU ms per step: control plane {Ms(u.ControlPlane / steps)}, PostgreSQL {Ms(u.Database / steps)}, Azurite {Ms(u.Azurite / steps)}, bench (stub relays, load, watch) {Ms(u.Bench / steps)}, rest {Ms(u.Rest / steps)}; machine {Percent(u.Share(u.Parties.Where(double.IsFinite).Sum() + u.Rest))} busy");
        var engine = (u.ControlPlane + u.Database) / steps;
        Line($"  the engine's own cost: control plane + PostgreSQL = {Ms(engine)} ms of CPU per step: at most {Rate(engine)}/s per core, {Rate(engine / Environment.ProcessorCount)}/s on {Environment.ProcessorCount} cores with nothing else running");
        if (c.StubFailures > 0)
        {
            Console.WriteLine($"  the stub relays' queue calls failed {c.StubFailures} time(s), each retried; the last: {Shorten(c.LastStubFailure ?? "")}");
        }

        Console.WriteLine();
    }

    static void Cpu(string what, CpuUse? u)
    {
        if (u is null)
        {
            return;
        }

        double Sec(double ms) => ms / 1000;
        var all = u.Parties.Where(double.IsFinite).Sum() + u.Rest;
        Line($"  {what,-22}{Sec(u.Relays),8:0.00}{Sec(u.ControlPlane),9:0.00}{Sec(u.Database),10:0.00}{Sec(u.Engine),8:0.00}{Sec(u.Azurite),9:0.00}{Sec(u.Bench),7:0.00}{Sec(u.Rest),7:0.00}{Sec(all),7:0.00}{Percent(u.Share(all)),6}");
    }

    /// <summary>A side past its time limit shows how long it had ("> 42.1"), and the ratio becomes a bound; another failure is "failed".</summary>
    static string Seconds(DeployTiming? timing) =>
        timing is null ? "-" : timing.TimedOut ? $"> {S(timing.Healthy)}" : timing.Failure is not null ? "failed" : S(timing.Healthy);

    static string S(TimeSpan? time) => time is { } t ? t.TotalSeconds.ToString(t.TotalSeconds < 10 ? "0.00" : "0.0", Invariant) : "-";

    static readonly IFormatProvider Invariant = System.Globalization.CultureInfo.InvariantCulture;
}
