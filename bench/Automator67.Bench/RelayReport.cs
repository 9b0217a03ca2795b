using static Automator67.Bench.Format;

namespace Automator67.Bench;

/// <summary>Prints the relay workload: round trips beside the raw Engine, where the CPU went, the relays at rest, and the ratios.</summary>
public static class RelayReport
{
    public static void Print(RelayResult result)
    {
        RoundTrips(result);
        Cpu(result.Phases);
        Rest(result.Rest);
        Ratios(result);
        Console.WriteLine($"relay logs: {result.RelayProblems} warning(s) or error(s){(result.RelayProblems > 0 ? "; the last:" : "")}");
        foreach (var problem in result.LastRelayProblems)
        {
            Console.WriteLine($"  {Shorten(problem)}");
        }

        Console.WriteLine();
    }

    static void RoundTrips(RelayResult result)
    {
        Console.WriteLine($"command round trip: signed and enqueued → result applied by the control plane (its row in a67.relay_commands leaves Pending)");
        Console.WriteLine($"  closed loop, {result.SendersPerRelay} senders per relay; relays and control plane on their defaults (relay polls an idle queue at most every 2 s,");
        Console.WriteLine("  runs 4 commands at once; the control plane's events consumer polls at most every 1 s). raw Docker = the same Engine calls from the bench.");
        Console.WriteLine($"  {"",-22}{"",35}{"applied (product clock)",24}");
        Console.WriteLine($"  {"scenario",-22}{"in flight",10}{"done",9}{"per s",9}{"p50 ms",8}{"p99 ms",8}{"failed",7}{"p50 ms",9}{"p99 ms",8}");
        foreach (var p in result.Phases)
        {
            Console.WriteLine($"  {p.Name,-22}{p.InFlight,10}{Count(p.Load.Timings.Count),9}{PerSecond(p.Load.PerSecond),9}{Ms(p.Load.Timings.P50),8}{Ms(p.Load.Timings.P99),8}{Count(p.Load.Failed),7}" +
                $"{Ms(p.Applied?.P50 ?? double.NaN),9}{Ms(p.Applied?.P99 ?? double.NaN),8}");
        }

        foreach (var p in result.Phases.Where(p => p.Load.Failed > 0))
        {
            Console.WriteLine($"  failed {p.Name}: {string.Join(", ", p.Load.Failures.Select(f => $"{f.Key} x{f.Value}"))}");
        }

        Console.WriteLine($"  (p50/p99: the sender's wall clock, which polls the table every {AppliedResults.PollInterval.TotalMilliseconds:0} ms; applied: completed_at − created_at as the product records them)");
        Console.WriteLine();
    }

    static void Cpu(IReadOnlyList<CommandPhase> phases)
    {
        Console.WriteLine("CPU over each measured phase: ms per completed command, and share of the machine (engine = dockerd + containerd and the");
        Console.WriteLine("helpers they run; engine and azurite are the shared local stack's, so they count anything else using them too; bench = the");
        Console.WriteLine("command sender and its polling, or the raw Docker calls)");
        Console.WriteLine($"  {"",-22}{"CPU ms per command",42}{"share of machine CPU",48}");
        Console.WriteLine($"  {"scenario",-22}{"relays",7}{"cp",7}{"db",7}{"engine",7}{"azurite",8}{"bench",7}" +
            $"{"relays",9}{"cp",5}{"db",5}{"engine",7}{"azurite",8}{"bench",6}{"rest",6}{"per relay",11}");
        foreach (var p in phases)
        {
            var c = p.Cpu;
            string Per(double ms) => Ms(ms / p.Done);
            var perRelay = p.Path == "relay" ? FinePercent(100 * c.Relays / (c.Machine / Environment.ProcessorCount) / p.Relays) + " core" : "";
            Console.WriteLine($"  {p.Name,-22}{(p.Path == "relay" ? Per(c.Relays) : "-"),7}{Per(c.ControlPlane),7}{Per(c.Database),7}{Per(c.Engine),7}{Per(c.Azurite),8}{Per(c.Bench),7}" +
                $"{Percent(c.Share(c.Relays)),9}{Percent(c.Share(c.ControlPlane)),5}{Percent(c.Share(c.Database)),5}{Percent(c.Share(c.Engine)),7}{Percent(c.Share(c.Azurite)),8}" +
                $"{Percent(c.Share(c.Bench)),6}{Percent(c.Share(c.Rest)),6}{perRelay,11}");
        }

        foreach (var p in phases.Where(p => p.Cpu.Share(p.Cpu.Rest) > Report.DisturbedShare))
        {
            Console.WriteLine($"  note: other processes took {Percent(p.Cpu.Share(p.Cpu.Rest))} of the machine during {p.Name}: its figures are below what this machine can do");
        }

        Console.WriteLine();
    }

    static void Rest(IReadOnlyList<RelayRest> rest)
    {
        Console.WriteLine("relays at rest (no commands; CPU over a window from /proc/<pid>/stat, in % of one core; memory VmRSS from /proc/<pid>/status)");
        Console.WriteLine($"  {"when",-42}{"relays",7}{"CPU mean",10}{"CPU max",9}{"RSS MiB mean",14}{"max",6}");
        foreach (var r in rest)
        {
            Console.WriteLine($"  {r.When + (r.Window > TimeSpan.Zero ? $" ({r.Window.TotalSeconds:0} s)" : ""),-42}{r.Relays,7}{FinePercent(r.CpuPercentMean),10}{FinePercent(r.CpuPercentMax),9}" +
                $"{r.ResidentMiBMean,14:0}{r.ResidentMiBMax,6:0}");
        }

        Console.WriteLine();
    }

    static void Ratios(RelayResult result)
    {
        Console.WriteLine("ratios (all from this run; raw = the same Engine calls from the bench at the same concurrency)");
        var byRelays = result.Phases.GroupBy(p => p.Relays).ToList();
        foreach (var group in byRelays)
        {
            foreach (var operation in group.GroupBy(p => p.Operation))
            {
                var raw = operation.FirstOrDefault(p => p.Path != "relay");
                var relay = operation.FirstOrDefault(p => p.Path == "relay" && p.Note is null);
                if (raw is null || relay is null)
                {
                    continue;
                }

                var relayCpu = relay.Cpu.Parties.Where(double.IsFinite).Sum() / Math.Max(1, relay.Done);
                var rawCpu = (raw.Cpu.Bench + raw.Cpu.Engine) / Math.Max(1, raw.Done);
                Line($"  {relay.Name}: p50 {Ms(relay.Load.Timings.P50)} ms = {X(relay.Load.Timings.P50 / raw.Load.Timings.P50)} raw ({Ms(raw.Load.Timings.P50)} ms); {PerSecond(relay.Load.PerSecond)}/s = {X(relay.Load.PerSecond / raw.Load.PerSecond)} raw ({PerSecond(raw.Load.PerSecond)}/s)");
                Line($"  {"",-16}CPU per command, every party = {Ms(relayCpu)} ms = {X(relayCpu / rawCpu)} a raw call's (bench + engine, {Ms(rawCpu)} ms)");
            }
        }

        var closed = result.Phases.FirstOrDefault(p => p.Path == "relay" && p.Relays == 1 && p.Operation == "ping" && p.Note is null);
        if (closed is not null && result.Phases.FirstOrDefault(p => p.Note is not null) is { } backlog)
        {
            Line($"  ping, 1 relay with a backlog ({backlog.InFlight} in flight): {PerSecond(backlog.Load.PerSecond)}/s = {X(backlog.Load.PerSecond / closed.Load.PerSecond)} the closed loop at {closed.InFlight}; p50 {Ms(backlog.Load.Timings.P50)} ms; relay CPU per command {Ms(backlog.Cpu.Relays / backlog.Done)} ms against {Ms(closed.Cpu.Relays / closed.Done)} ms");
        }

        if (byRelays.Count > 1)
        {
            var many = byRelays[^1].Key;
            foreach (var operation in new[] { "ping", "inspect" })
            {
                var one = result.Phases.FirstOrDefault(p => p.Path == "relay" && p.Relays == 1 && p.Operation == operation && p.Note is null);
                var all = result.Phases.FirstOrDefault(p => p.Path == "relay" && p.Relays == many && p.Operation == operation);
                if (one is not null && all is not null)
                {
                    Line($"  {operation}: {many} relays do {X(all.Load.PerSecond / one.Load.PerSecond)} the commands/s of one ({many}× if nothing were shared), at {X(all.Load.Timings.P50 / one.Load.Timings.P50)} its p50");
                }
            }
        }

        var atRest = result.Rest.Where(r => double.IsFinite(r.CpuPercentMean)).ToList();
        if (atRest.Count > 0)
        {
            var last = atRest[^1];
            var fresh = result.Rest[0];
            Line($"  at rest after its load a relay takes {FinePercent(last.CpuPercentMean)} of one core and {last.ResidentMiBMean:0} MiB resident ({fresh.ResidentMiBMean:0} MiB just started); {last.Relays} take {FinePercent(last.CpuPercentMean * last.Relays)} of one core and {last.ResidentMiBMean * last.Relays:0} MiB together");
        }

        Console.WriteLine();
    }
}
