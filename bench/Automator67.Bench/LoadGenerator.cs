using System.Diagnostics;

namespace Automator67.Bench;

/// <summary>
/// A closed loop: <c>concurrency</c> workers, each sending its next request as soon as the last one answered, for a
/// fixed time. Every loop ends at its deadline (or on cancellation); the request in flight then is waited for and
/// counted, and the elapsed time runs until the last one answered, so requests/s is completed requests over that time.
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
        var start = Stopwatch.GetTimestamp();
        var workers = await PhaseAsync(request, duration, ct);
        var elapsed = Stopwatch.GetElapsedTime(start);
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
        var failures = workers.SelectMany(w => w.Failures)
            .GroupBy(f => f.Key, f => f.Value)
            .ToDictionary(g => g.Key, g => g.Sum());
        var timings = Timings.From(workers.SelectMany(w => w.Latencies));
        var answered = timings.Count + failures.Values.Sum();
        var machineMs = elapsed.TotalMilliseconds * Environment.ProcessorCount;
        return new LoadResult(name, timings, failures, elapsed,
            ServerCpuPerRequestMs: serverCpuUsed.TotalMilliseconds / answered,
            DatabaseCpuPerRequestMs: databaseShare * machineMs / answered,
            ServerCpuShare: serverShare,
            DatabaseCpuShare: databaseShare,
            BenchCpuShare: ownShare,
            RestCpuShare: Math.Max(0, machineShare - serverShare - ownShare - (double.IsNaN(databaseShare) ? 0 : databaseShare)));
    }

    async Task<Worker[]> PhaseAsync(Func<int, HttpRequestMessage> request, TimeSpan duration, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(i => new Worker(i)).ToArray();
        await Task.WhenAll(workers.Select(w => Task.Run(() => w.RunAsync(http, request, deadline, ct), ct)));
        return workers;
    }

    sealed class Worker(int index)
    {
        public List<double> Latencies { get; } = new(capacity: 4096);

        public Dictionary<string, int> Failures { get; } = [];

        public async Task RunAsync(HttpClient http, Func<int, HttpRequestMessage> request, long deadline, CancellationToken ct)
        {
            while (Stopwatch.GetTimestamp() < deadline && !ct.IsCancellationRequested)
            {
                using var message = request(index);
                var start = Stopwatch.GetTimestamp();
                string? failure = null;
                try
                {
                    // The whole body is read before the clock stops: a client has not got its answer until then.
                    using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, ct);
                    if (!response.IsSuccessStatusCode)
                    {
                        failure = $"HTTP {(int)response.StatusCode}";
                    }
                }
                catch (HttpRequestException ex)
                {
                    failure = ex.HttpRequestError.ToString();
                }
                catch (TaskCanceledException) when (!ct.IsCancellationRequested)
                {
                    failure = "timeout";
                }

                var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (failure is null)
                {
                    Latencies.Add(elapsed);
                }
                else
                {
                    Failures[failure] = Failures.GetValueOrDefault(failure) + 1;
                }
            }
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
