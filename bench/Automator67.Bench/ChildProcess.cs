using System.Diagnostics;
using System.Globalization;

namespace Automator67.Bench;

/// <summary>
/// A product process the bench started (the control plane, a relay, an enrolment) from its build output, with a
/// clean environment of the bench's choosing. Its output is kept as a bounded tail, to explain a failed start and to
/// show what it logged under load; on dispose it is stopped with SIGTERM and killed if it has not exited in time.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    const int KeptLines = 200;

    /// <summary>Settings from the caller's shell that would decide what the product sees: removed before every start.</summary>
    static readonly string[] Inherited = ["ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "AZURE_FUNCTIONS_ENVIRONMENT", "ASPNETCORE_URLS", "A67_LOCAL_SETTINGS"];

    readonly Process _process;
    readonly Queue<string> _output = new();
    readonly List<string> _problems = [];
    readonly TimeSpan _stopGrace;
    int _lines;
    int _problemCount;
    bool _inProblem;

    ChildProcess(Process process, TimeSpan stopGrace)
    {
        _process = process;
        _stopGrace = stopGrace;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>CPU time the process has used so far, all its threads (Linux reads it from <c>/proc/&lt;pid&gt;/stat</c>).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
        }
    }

    /// <summary>Starts <c>dotnet ASSEMBLY ARGS</c> in the assembly's folder, in Production, with <paramref name="environment"/> on top.</summary>
    public static ChildProcess Start(string assembly, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, TimeSpan stopGrace)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(assembly);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in Inherited)
        {
            info.Environment.Remove(name);
        }

        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {Path.GetFileName(assembly)}");
        return new ChildProcess(process, stopGrace);
    }

    /// <summary>Forgets the output so far (what a start logged is not news once it is ready).</summary>
    public void ClearOutput()
    {
        lock (_output)
        {
            _lines = 0;
            _output.Clear();
        }
    }

    /// <summary>How many lines it has written (since <see cref="ClearOutput"/>), and the last of them.</summary>
    public (int Lines, IReadOnlyList<string> Tail) Output
    {
        get
        {
            lock (_output)
            {
                return (_lines, [.. _output]);
            }
        }
    }

    /// <summary>
    /// How many warnings, errors and critical entries it has logged (the console's simple format starts them with
    /// <c>warn:</c>, <c>fail:</c>, <c>crit:</c>), and the last few, each with its message line; kept apart from the
    /// tail, which a chatty process at Information would soon push them out of.
    /// </summary>
    public (int Count, IReadOnlyList<string> Last) Problems
    {
        get
        {
            lock (_output)
            {
                return (_problemCount, [.. _problems]);
            }
        }
    }

    /// <summary>The last lines, shortened: stack traces arrive on one line each, and their first few hundred characters name the problem.</summary>
    public string LastLines(int count) =>
        string.Join('\n', Output.Tail.TakeLast(count).Select(l => Format.Shorten(l)));

    /// <summary>True once a line containing <paramref name="text"/> has been written (and is still in the tail); false if the process exits or the time runs out first.</summary>
    public async Task<bool> WaitForLineAsync(string text, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (Output.Tail.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                return true;
            }

            if (_process.HasExited)
            {
                return false;
            }

            await Task.Delay(50, ct);
        }

        return false;
    }

    /// <summary>Waits for the process to exit on its own: its exit code, or -1 past <paramref name="limit"/> (dispose then stops it).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan limit, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return -1;
        }
    }

    /// <summary>SIGTERM and a graceful stop; killed if it has not stopped within the grace given at start.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var grace = new CancellationTokenSource(_stopGrace);
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _lines++;
            _output.Enqueue(line);
            if (_output.Count > KeptLines)
            {
                _output.Dequeue();
            }

            if (line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
            {
                _problemCount++;
                _problems.Add(line);
                if (_problems.Count > 5)
                {
                    _problems.RemoveAt(0);
                }

                _inProblem = true;
            }
            else if (_inProblem)
            {
                // The message line that follows the header: the header alone names only the category.
                _problems[^1] += " " + line.Trim();
                _inProblem = false;
            }
        }
    }
}
