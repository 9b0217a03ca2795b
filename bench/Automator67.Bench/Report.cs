using System.Runtime.InteropServices;
using static Automator67.Bench.Format;

namespace Automator67.Bench;

/// <summary>Prints the run: the machine, the baselines, the HTTP table, and the ratios between them (ratios travel between machines; absolute numbers do not).</summary>
public static class Report
{
    /// <summary>Past this share of the machine taken by other processes, a scenario's figures are flagged as disturbed.</summary>
    public const double DisturbedShare = 0.15;

    public static void Header(BenchSettings settings)
    {
        Console.WriteLine($"Automator67 benchmark ({settings.Scenario.ToString().ToLowerInvariant()}), run {settings.RunId}, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z");
        Console.WriteLine($"machine   {Environment.ProcessorCount} cores ({CpuModel()}), {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, load average {MachineCpu.LoadAverage()} at start");
        Console.WriteLine($"build     {settings.Configuration}{(settings.Configuration == "Release" ? "" : " (not Release: the numbers are not representative)")}");
        Console.WriteLine($"load      warm-up {settings.Warmup.TotalSeconds:0} s and {settings.Duration.TotalSeconds:0} s measured per scenario, loopback; the bench shares the cores with what it measures");
        if (settings.RunsAuth)
        {
            Console.WriteLine($"auth      concurrency {settings.Concurrency}");
        }

        if (settings.RunsRelay)
        {
            Console.WriteLine($"relay     1 relay, then {settings.Relays}; {settings.SendersPerRelay} closed-loop senders per relay");
        }

        if (settings.RunsDeploy)
        {
            Console.WriteLine($"deploy    {string.Join(", ", settings.Sizes)} replicas over {DeployWorkload.Relays} relays, each beside Docker Swarm; ceiling: {EngineCeiling.Apps} apps over {EngineCeiling.Nodes} stub relays");
        }

        if (settings.RunsSweeps)
        {
            Console.WriteLine($"sweeps    {SweepData.Nodes:#,0} nodes, {SweepData.Replicas:#,0} replicas (synthetic rows); {SweepData.SignedNodes * HeartbeatIngestion.Beats:#,0} signed heartbeats");
        }

        Console.WriteLine();
    }

    public static void Baselines(BaselineResult b)
    {
        Console.WriteLine("in-process baselines (the product's own classes and default settings, as in the control plane)");
        Row("  what", "samples", "median ms", "p99 ms", "CPU ms", "rate (1/median)");
        Row($"  password hash (Argon2id m={b.MemoryMiB} MiB t={b.Iterations} p=1)", b.Hash);
        Row("  password verify (what login pays)", b.Verify);
        Row("  access-token validation (ES256)", b.TokenValidation);
        Console.WriteLine();
    }

    public static void Load(int concurrency, IReadOnlyList<LoadResult> results)
    {
        Console.WriteLine($"HTTP against the control plane, concurrency {concurrency}");
        Console.WriteLine($"  {"",-63}{"CPU ms per request",18}{"share of machine CPU",29}");
        Console.WriteLine($"  {"scenario",-22}{"requests",9}{"req/s",9}{"p50 ms",8}{"p99 ms",8}{"failed",7}{"server",10}{"db",8}{"server",10}{"db",6}{"bench",7}{"rest",6}");
        foreach (var r in results)
        {
            Console.WriteLine($"  {r.Name,-22}{Count(r.Timings.Count),9}{PerSecond(r.RequestsPerSecond),9}{Ms(r.Timings.P50),8}{Ms(r.Timings.P99),8}{Count(r.Failures.Values.Sum()),7}" +
                $"{Ms(r.ServerCpuPerRequestMs),10}{Ms(r.DatabaseCpuPerRequestMs),8}{Percent(r.ServerCpuShare),10}{Percent(r.DatabaseCpuShare),6}{Percent(r.BenchCpuShare),7}{Percent(r.RestCpuShare),6}");
        }

        foreach (var r in results.Where(r => r.Failures.Count > 0))
        {
            Console.WriteLine($"  failed {r.Name}: {string.Join(", ", r.Failures.Select(f => $"{f.Key} x{f.Value}"))}");
        }

        Console.WriteLine("  (server = the control plane; db = the PostgreSQL backends of its database; rest = anything else running)");
        foreach (var r in results.Where(r => r.RestCpuShare > DisturbedShare))
        {
            Console.WriteLine($"  note: other processes took {Percent(r.RestCpuShare)} of the machine during {r.Name}: its figures are below what this machine can do");
        }
        Console.WriteLine();
    }

    public static void Ratios(BaselineResult b, LoadResult login, LoadResult me, LoadResult healthz, int concurrency)
    {
        var hash = b.Hash.Wall.P50;
        var validation = b.TokenValidation.Wall.P50;
        var cores = Environment.ProcessorCount;
        Console.WriteLine("ratios (all from this run; hash and validation = their median wall time unless CPU is named)");
        Line($"  login:   {PerSecond(login.RequestsPerSecond)} req/s = {X(login.RequestsPerSecond * hash / 1000)} the single-core hash rate (1/hash = {Rate(hash)}/s); {Percent(login.RequestsPerSecond * hash / 1000 / cores)} of the {cores}-core ceiling ({Rate(hash / cores)}/s)");
        Line($"  login:   p50 = {X(login.Timings.P50 / hash)} one hash ({concurrency} logins share {cores} cores: about {(double)concurrency / cores:0.#} hashes' time if hashing were all of it)");
        Line($"  login:   server CPU per login = {X(login.ServerCpuPerRequestMs / b.Verify.CpuMs)} the CPU of one verify (beyond it: HTTP, JSON, session and audit writes, token signing); db CPU per login = {X(login.DatabaseCpuPerRequestMs / b.Verify.CpuMs)}");
        Line($"  me:      p50 = {X(me.Timings.P50 / validation)} one token validation; server CPU per request = {X(me.ServerCpuPerRequestMs / b.TokenValidation.CpuMs)}, db CPU per request = {X(me.DatabaseCpuPerRequestMs / b.TokenValidation.CpuMs)} the CPU of one validation");
        Line($"  me:      {PerSecond(me.RequestsPerSecond)} req/s = {X(me.RequestsPerSecond / healthz.RequestsPerSecond)} healthz ({PerSecond(healthz.RequestsPerSecond)} req/s, the HTTP floor)");
        Line($"  me:      token validation alone would allow {Rate(validation / cores)}/s on {cores} cores = {X(1000 * cores / validation / me.RequestsPerSecond)} the measured me rate");
        Line($"  login / me = {login.RequestsPerSecond / me.RequestsPerSecond:0.000}");
        Console.WriteLine();
    }

    public static void ControlPlaneOutput(ControlPlaneProcess process)
    {
        var (lines, tail) = process.Output;
        Console.WriteLine($"control plane log while measured: {lines} line(s) at Warning or above{(lines > 0 ? "; the last:" : "")}");
        foreach (var line in tail.TakeLast(10))
        {
            Console.WriteLine($"  {Shorten(line)}");
        }
    }

    static void Row(string what, Cost cost) =>
        Row(what, Count(cost.Wall.Count), Ms(cost.Wall.P50), Ms(cost.Wall.P99), Ms(cost.CpuMs), $"{Rate(cost.Wall.P50)}/s per core");

    static void Row(string what, string samples, string median, string p99, string cpu, string rate) =>
        Console.WriteLine($"{what,-52}{samples,8}{median,11}{p99,11}{cpu,9}   {rate}");

    static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }
}
