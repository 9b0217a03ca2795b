using System.Diagnostics;

namespace Automator67.Bench;

/// <summary>
/// A closed loop: <c>workers</c> loops, each starting its next operation as soon as its last one ended, for a fixed
/// time. Every loop ends at its deadline (or on cancellation); the operation in flight then is waited for and counted,
/// and the elapsed time runs until the last one ended, so operations/s is completed operations over that time.
/// </summary>
public static class ClosedLoop
{
    /// <summary>
    /// Runs the loops. <paramref name="operation"/> gets the worker's index and returns null on success or a short
    /// name for the failure (failures are counted by name, apart from the latencies).
    /// </summary>
    public static async Task<LoopResult> RunAsync(int workers, Func<int, CancellationToken, Task<string?>> operation, TimeSpan duration, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, workers).Select(i => new Loop(i)).ToArray();
        await Task.WhenAll(loops.Select(l => Task.Run(() => l.RunAsync(operation, deadline, ct), ct)));
        var elapsed = Stopwatch.GetElapsedTime(start);
        var failures = loops.SelectMany(l => l.Failures)
            .GroupBy(f => f.Key, f => f.Value)
            .ToDictionary(g => g.Key, g => g.Sum());
        return new LoopResult(Timings.From(loops.SelectMany(l => l.Latencies)), failures, elapsed);
    }

    sealed class Loop(int index)
    {
        public List<double> Latencies { get; } = new(capacity: 4096);

        public Dictionary<string, int> Failures { get; } = [];

        public async Task RunAsync(Func<int, CancellationToken, Task<string?>> operation, long deadline, CancellationToken ct)
        {
            while (Stopwatch.GetTimestamp() < deadline && !ct.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                var failure = await operation(index, ct);
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

/// <summary>One closed-loop phase: latencies of the successful operations, failures by name, and the time it took.</summary>
public sealed record LoopResult(Timings Timings, IReadOnlyDictionary<string, int> Failures, TimeSpan Elapsed)
{
    public double PerSecond => Timings.Count / Elapsed.TotalSeconds;

    public int Failed => Failures.Values.Sum();
}
