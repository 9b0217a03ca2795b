using System.Globalization;

namespace Automator67.Bench;

/// <summary>
/// What <c>/proc</c> says about a process, whoever started it: CPU ticks, resident memory, name. Used for the parts
/// of the stack the bench did not start (PostgreSQL backends, the Docker Engine, Azurite) and for the relays' memory.
/// A process that is gone, or a system without <c>/proc</c>, reads as null.
/// </summary>
public static class ProcFiles
{
    /// <summary>
    /// Clock ticks (user + system) used so far; with <paramref name="children"/> also those of its children that have
    /// ended and been waited for (dockerd runs <c>runc --version</c> and <c>docker-init --version</c> for every
    /// <c>/version</c>: that is the Engine's work too).
    /// </summary>
    public static long? CpuTicks(int pid, bool children = false)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid …"; utime, stime, cutime, cstime are the 12th-15th fields after the comm.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return children ? ticks + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture) : ticks;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Resident memory (<c>VmRSS</c> of <c>/proc/&lt;pid&gt;/status</c>), in bytes.</summary>
    public static long? ResidentBytes(int pid)
    {
        try
        {
            // "VmRSS:	  114200 kB"
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : 1024 * long.Parse(line.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Every process whose name (<c>comm</c>) and command line match.</summary>
    public static IReadOnlyList<int> Find(Func<string, string, bool> match)
    {
        var found = new List<int>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                {
                    continue;
                }

                try
                {
                    var name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                    var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                    if (match(name, commandLine))
                    {
                        found.Add(pid);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Gone since the listing, or not ours to read.
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No /proc: nothing found.
        }

        return found;
    }
}
