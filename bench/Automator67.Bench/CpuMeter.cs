using System.Diagnostics;

namespace Automator67.Bench;

/// <summary>
/// Where the machine's CPU went between two readings, by party: the relays, the control plane, the PostgreSQL
/// backends of the run's database, the Docker Engine (dockerd and containerd, with the helpers they run and reap),
/// Azurite, this bench, and the rest.
/// Everything is read in the same clock ticks (<c>/proc/stat</c> and <c>/proc/&lt;pid&gt;/stat</c>). The Engine and
/// Azurite belong to the shared local stack: whatever else uses them at the time is counted as theirs.
/// </summary>
public sealed class CpuMeter(ControlPlaneProcess controlPlane, DatabaseCpu database, Func<IReadOnlyList<int>> relays)
{
    readonly IReadOnlyList<int> _engine = ProcFiles.Find((name, _) => name is "dockerd" or "containerd");
    readonly IReadOnlyList<int> _azurite = ProcFiles.Find((name, commandLine) => name == "node" && commandLine.Contains("azurite", StringComparison.Ordinal));
    readonly int _bench = Environment.ProcessId;

    public async Task<CpuReading> ReadAsync(CancellationToken ct)
    {
        var relayPids = relays();
        var databaseTicks = await database.ReadAsync(ct);
        return new CpuReading(
            Stopwatch.GetTimestamp(),
            MachineCpu.Read(),
            Sum(relayPids),
            Sum([controlPlane.ProcessId]),
            databaseTicks,
            Sum(_engine, children: true),
            Sum(_azurite),
            Sum([_bench]));
    }

    /// <summary>The CPU each party used between two readings, in milliseconds of CPU.</summary>
    public static CpuUse Between(CpuReading before, CpuReading after)
    {
        var elapsed = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp);
        var machineMs = elapsed.TotalMilliseconds * Environment.ProcessorCount;
        var machineTicks = after.Machine.Total - before.Machine.Total;
        double Ms(long ticks) => machineTicks > 0 ? (double)ticks / machineTicks * machineMs : double.NaN;
        var busy = MachineCpu.BusyShare(before.Machine, after.Machine) * machineMs;
        var use = new CpuUse(
            machineMs,
            Ms(after.Relays - before.Relays),
            Ms(after.ControlPlane - before.ControlPlane),
            DatabaseCpu.Used(before.Database, after.Database) is { } db ? Ms(db) : double.NaN,
            Ms(after.Engine - before.Engine),
            Ms(after.Azurite - before.Azurite),
            Ms(after.Bench - before.Bench),
            Rest: 0);
        return use with { Rest = Math.Max(0, busy - use.Parties.Where(double.IsFinite).Sum()) };
    }

    static long Sum(IEnumerable<int> pids, bool children = false) => pids.Sum(pid => ProcFiles.CpuTicks(pid, children) ?? 0);
}

/// <summary>One reading of every party's CPU ticks so far (and of the whole machine's).</summary>
public sealed record CpuReading(
    long Timestamp,
    (long Busy, long Total) Machine,
    long Relays,
    long ControlPlane,
    IReadOnlyDictionary<int, long> Database,
    long Engine,
    long Azurite,
    long Bench);

/// <summary>
/// CPU used over a phase, in milliseconds of CPU, by party; <see cref="Machine"/> is all cores over the phase, so a
/// party's share of the machine is its milliseconds over that. NaN where a party could not be read.
/// </summary>
public sealed record CpuUse(double Machine, double Relays, double ControlPlane, double Database, double Engine, double Azurite, double Bench, double Rest)
{
    public IEnumerable<double> Parties => [Relays, ControlPlane, Database, Engine, Azurite, Bench];

    public double Share(double ms) => ms / Machine;
}
