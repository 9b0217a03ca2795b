using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Automator67.Bench;

/// <summary>
/// The real control plane, started from its build output in Production with its own database, queue prefix, key file
/// and port, as the tests' ProductProcess does. Its output is kept (a bounded tail) to explain a failed start and to
/// show any warning it logged under load.
/// </summary>
public sealed class ControlPlaneProcess : IAsyncDisposable
{
    const int KeptLines = 200;
    readonly Process _process;
    readonly Queue<string> _output = new();
    int _lines;

    ControlPlaneProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>CPU time the control plane has used so far (all its threads).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Forgets the output so far: what it logged while starting (readiness 503s during migration) is not news.</summary>
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

    public static ControlPlaneProcess Start(BenchSettings settings, RunResources resources)
    {
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(settings.ControlPlaneAssembly)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(settings.ControlPlaneAssembly);

        // Nothing from the caller's shell decides what the control plane sees.
        foreach (var name in new[] { "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "AZURE_FUNCTIONS_ENVIRONMENT", "ASPNETCORE_URLS", "A67_LOCAL_SETTINGS" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["ConnectionStrings__Postgres"] = resources.ConnectionString;
        info.Environment["AzureWebJobsStorage"] = settings.Storage;
        info.Environment["Queues__Prefix"] = settings.QueuePrefix;
        info.Environment["ControlPlane__Port"] = port.ToString(CultureInfo.InvariantCulture);
        info.Environment["Auth__SigningKeyFile"] = Path.Combine(resources.KeyDirectory, "signing-keys.json");
        // 16 workers from one address must measure auth, not the per-IP limits (RateLimitTests cover those).
        info.Environment["RateLimits__SignupPerIpPerHour"] = "100000";
        info.Environment["RateLimits__LoginPerIpPerMinute"] = "100000";
        // Warnings only: one log line per request would measure the console, not auth. The request log's own
        // category is raised too, since the built-in defaults name it explicitly (a Default alone would not reach it).
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Warning";

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the control plane");
        return new ControlPlaneProcess(process, new Uri($"http://127.0.0.1:{port}"));
    }

    /// <summary>Polls <c>/readyz</c> until it answers 200; false when the process exits or the time runs out first.</summary>
    public async Task<bool> WaitUntilReadyAsync(HttpClient http, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (!_process.HasExited && Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(BaseAddress, "/readyz"), ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100, ct);
        }

        return false;
    }

    /// <summary>SIGTERM and a graceful stop (its job server deregisters); killed if it has not stopped within 20 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(20));
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

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
        }
    }
}
