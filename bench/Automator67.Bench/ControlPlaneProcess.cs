using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Automator67.Bench;

/// <summary>
/// The real control plane, started from its build output in Production with its own database, queue prefix, key
/// files and port, as the tests' ProductProcess does. Its output is kept (a bounded tail) to explain a failed start
/// and to show any warning it logged under load.
/// </summary>
public sealed class ControlPlaneProcess : IAsyncDisposable
{
    readonly ChildProcess _process;

    ControlPlaneProcess(ChildProcess process, Uri baseAddress, string commandSigningKeyFile)
    {
        _process = process;
        BaseAddress = baseAddress;
        CommandSigningKeyFile = commandSigningKeyFile;
    }

    public Uri BaseAddress { get; }

    /// <summary>The keys it signs relay commands with; the relay workload sends its commands signed with them, as the control plane's own sender.</summary>
    public string CommandSigningKeyFile { get; }

    public int ProcessId => _process.Id;

    public int? ExitCode => _process.ExitCode;

    /// <summary>CPU time the control plane has used so far (all its threads).</summary>
    public TimeSpan CpuTime => _process.CpuTime;

    /// <summary>Forgets the output so far: what it logged while starting (readiness 503s during migration) is not news.</summary>
    public void ClearOutput() => _process.ClearOutput();

    /// <summary>How many lines it has written (since <see cref="ClearOutput"/>), and the last of them.</summary>
    public (int Lines, IReadOnlyList<string> Tail) Output => _process.Output;

    public string LastLines(int count) => _process.LastLines(count);

    public static ControlPlaneProcess Start(BenchSettings settings, RunResources resources)
    {
        var port = FreePort();
        var commandKeys = Path.Combine(resources.KeyDirectory, "command-signing-keys.json");
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = resources.ConnectionString,
            ["AzureWebJobsStorage"] = settings.Storage,
            ["Queues__Prefix"] = settings.QueuePrefix,
            ["ControlPlane__Port"] = port.ToString(CultureInfo.InvariantCulture),
            // Every key file in the run's own folder: the defaults are relative to the working directory, the build output.
            ["Auth__SigningKeyFile"] = Path.Combine(resources.KeyDirectory, "signing-keys.json"),
            ["Nodes__CommandSigningKeyFile"] = commandKeys,
            ["TwoFactor__SecretKeyFile"] = Path.Combine(resources.KeyDirectory, "two-factor-key.json"),
            // 16 workers from one address must measure auth, not the per-IP limits (RateLimitTests cover those).
            ["RateLimits__SignupPerIpPerHour"] = "100000",
            ["RateLimits__LoginPerIpPerMinute"] = "100000",
            // Warnings only: one log line per request would measure the console, not auth. The request log's own
            // category is raised too, since the built-in defaults name it explicitly (a Default alone would not reach it).
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Warning",
        };

        var process = ChildProcess.Start(settings.ControlPlaneAssembly, [], environment, stopGrace: TimeSpan.FromSeconds(20));
        return new ControlPlaneProcess(process, new Uri($"http://127.0.0.1:{port}"), commandKeys);
    }

    /// <summary>Polls <c>/readyz</c> until it answers 200; false when the process exits or the time runs out first.</summary>
    public async Task<bool> WaitUntilReadyAsync(HttpClient http, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (_process.ExitCode is null && Stopwatch.GetTimestamp() < deadline)
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
    public ValueTask DisposeAsync() => _process.DisposeAsync();

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
