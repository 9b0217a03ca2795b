using System.Diagnostics;

namespace Automator67.Bench;

/// <summary>
/// HTTP load against the control plane: a <see cref="ClosedLoop"/> of <c>concurrency</c> workers, each sending its
/// next request as soon as the last one answered, with the CPU each party spent over the measured phase.
/// </summary>
public sealed class LoadGenerator(HttpClient http, ControlPlaneProcess server, DatabaseCpu database, int concurrency)
{
    /// <summary>Runs the warm-up unmeasured, then the measured phase.</summary>
    public async Task<LoadResult> RunAsync(string name, Func<int, HttpRequestMessage> request, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        if (warmup > TimeSpan.Zero)
        {
            _ = await PhaseAsync(request, warmup, ct);
        }

        using var self = Process.GetCurrentProcess();
        var databaseTicks = await database.ReadAsync(ct);
        var serverCpu = server.CpuTime;
        var ownCpu = self.TotalProcessorTime;
        var machine = MachineCpu.Read();
        var phase = await PhaseAsync(request, duration, ct);
        var elapsed = phase.Elapsed;
        var machineAfter = MachineCpu.Read();
        self.Refresh();
        var serverCpuUsed = server.CpuTime - serverCpu;
        var ownCpuUsed = self.TotalProcessorTime - ownCpu;
        var databaseUsed = DatabaseCpu.Used(databaseTicks, await database.ReadAsync(ct));

        // Shares of all cores over the phase; /proc/stat and /proc/<pid>/stat count in the same clock ticks.
        var machineTicks = machineAfter.Total - machine.Total;
        var serverShare = serverCpuUsed / (elapsed * Environment.ProcessorCount);
        var ownShare = ownCpuUsed / (elapsed * Environment.ProcessorCount);
        var databaseShare = databaseUsed is { } used && machineTicks > 0 ? (double)used / machineTicks : double.NaN;
        var machineShare = MachineCpu.BusyShare(machine, machineAfter);
        var answered = phase.Timings.Count + phase.Failed;
        var machineMs = elapsed.TotalMilliseconds * Environment.ProcessorCount;
        return new LoadResult(name, phase.Timings, phase.Failures, elapsed,
            ServerCpuPerRequestMs: serverCpuUsed.TotalMilliseconds / answered,
            DatabaseCpuPerRequestMs: databaseShare * machineMs / answered,
            ServerCpuShare: serverShare,
            DatabaseCpuShare: databaseShare,
            BenchCpuShare: ownShare,
            RestCpuShare: Math.Max(0, machineShare - serverShare - ownShare - (double.IsNaN(databaseShare) ? 0 : databaseShare)));
    }

    Task<LoopResult> PhaseAsync(Func<int, HttpRequestMessage> request, TimeSpan duration, CancellationToken ct) =>
        ClosedLoop.RunAsync(concurrency, (worker, token) => SendAsync(request, worker, token), duration, ct);

    async Task<string?> SendAsync(Func<int, HttpRequestMessage> request, int worker, CancellationToken ct)
    {
        using var message = request(worker);
        try
        {
            // The whole body is read before the clock stops: a client has not got its answer until then.
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, ct);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
        }
        catch (HttpRequestException ex)
        {
            return ex.HttpRequestError.ToString();
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return "timeout";
        }
    }
}

/// <summary>
/// One scenario's measured phase. CPU shares are of the whole machine (all cores) over the phase: the control plane,
/// the PostgreSQL backends of its database, this bench, and the rest (whatever else ran). Per-request CPU divides by
/// every answered request, failed ones included (NaN when none answered).
/// </summary>
public sealed record LoadResult(
    string Name,
    Timings Timings,
    IReadOnlyDictionary<string, int> Failures,
    TimeSpan Elapsed,
    double ServerCpuPerRequestMs,
    double DatabaseCpuPerRequestMs,
    double ServerCpuShare,
    double DatabaseCpuShare,
    double BenchCpuShare,
    double RestCpuShare)
{
    public double RequestsPerSecond => Timings.Count / Elapsed.TotalSeconds;
}
