using System.Globalization;

namespace Automator67.Bench;

/// <summary>
/// The whole machine's CPU from <c>/proc/stat</c>, so a run shows what else was busy beside the control plane and
/// the bench: PostgreSQL (part of the system under test) and anything else (a build next door skews every number).
/// </summary>
public static class MachineCpu
{
    /// <summary>Busy and total time of all cores so far, in clock ticks; zeros where <c>/proc/stat</c> is missing.</summary>
    public static (long Busy, long Total) Read()
    {
        try
        {
            // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var idle = fields[3] + fields[4];
            return (fields.Sum() - idle, fields.Sum());
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }

    /// <summary>The share of all cores that was busy between two readings; NaN when it cannot be known.</summary>
    public static double BusyShare((long Busy, long Total) before, (long Busy, long Total) after) =>
        after.Total > before.Total ? (double)(after.Busy - before.Busy) / (after.Total - before.Total) : double.NaN;

    /// <summary>The one-minute load average, for the header.</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
