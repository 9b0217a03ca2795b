using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Automator67.Contracts.Nodes;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// The operation engine's own ceiling: orchestration steps per second with the Docker work taken out. Four
/// <see cref="StubRelay"/> nodes of an account of their own answer every command at once; <see cref="Apps"/> loops
/// each create an app, deploy <see cref="Replicas"/> replicas of it (the deploy workload's spec) and remove it, again
/// and again, through the real API. A step is one command of an operation: sent by an advance, answered, its result
/// applied by the events consumer and the operation advanced again (pull on a node, start a replica, probe it, stop
/// it, remove it). What is counted is what the database says happened in a window of --duration that starts once
/// the loops have run for a warm-up (at least 10 s): steady load, no ramp-up, no tail; each party's CPU is read over
/// the same window.
/// </summary>
public static class EngineCeiling
{
    public const int Nodes = 4;
    public const int Apps = 16;
    public const int Replicas = 10;

    /// <summary>The loops need a cycle or so to fall out of step (they start together); --warmup when longer.</summary>
    static readonly TimeSpan MinWarmup = TimeSpan.FromSeconds(10);

    static readonly TimeSpan Stagger = TimeSpan.FromMilliseconds(150);

    /// <summary>An operation of a stub app takes seconds at most; one that takes this long is counted as failed.</summary>
    static readonly TimeSpan OperationLimit = TimeSpan.FromSeconds(60);

    public static async Task<CeilingResult> RunAsync(BenchSettings settings, RunResources resources, ControlPlaneProcess controlPlane, HttpClient http, CancellationToken ct)
    {
        var owner = await BenchApi.SignUpAsync(http, settings.RunId, "ceiling", ct);
        var facts = new HostFacts(Environment.MachineName, RuntimeInformation.OSDescription, RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            Environment.ProcessorCount, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, "stub", "1.41");
        var stubs = new List<StubRelay>();
        try
        {
            for (var i = 0; i < Nodes; i++)
            {
                stubs.Add(await StubRelay.StartAsync(owner, $"stub-{i + 1}", facts, ct));
            }

            await owner.WaitForReadyNodesAsync(Nodes, TimeSpan.FromSeconds(30), ct);
            await using var dataSource = NpgsqlDataSource.Create(resources.ConnectionString);
            await using var watch = OperationWatch.Start(dataSource);
            var cpu = new CpuMeter(controlPlane, new DatabaseCpu(settings.Postgres, settings.DatabaseName), () => []);
            var image = $"{settings.SampleImage}:v1";
            var names = 0;

            async Task<string?> Cycle(CancellationToken token)
            {
                using var cap = CancellationTokenSource.CreateLinkedTokenSource(token);
                cap.CancelAfter(OperationLimit);
                try
                {
                    var name = $"stub-app-{Interlocked.Increment(ref names)}";
                    var app = (await owner.PostAsync("/api/apps", new { name }, HttpStatusCode.Created, cap.Token)).GetProperty("id").GetGuid();
                    var deploy = await owner.PostAsync($"/api/apps/{app}/deployments", AppDeployments.Spec(image, Replicas), HttpStatusCode.Accepted, cap.Token);
                    if (await watch.WaitAsync(deploy.GetProperty("id").GetGuid(), cap.Token) is not ("Succeeded", _) and var (status, reason))
                    {
                        return $"deploy {status}: {reason}";
                    }

                    var remove = await owner.DeleteAsync($"/api/apps/{app}", HttpStatusCode.Accepted, cap.Token);
                    return await watch.WaitAsync(remove.GetProperty("id").GetGuid(), cap.Token) is ("Succeeded", _) ? null : "remove did not succeed";
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    return $"an operation did not end within {OperationLimit.TotalSeconds:0} s";
                }
                catch (InvalidOperationException ex) when (!token.IsCancellationRequested)
                {
                    return ex.Message;
                }
            }

            // The loops start a little apart, so that they fall out of step sooner; they are stopped (their operations
            // abandoned: nothing reads the stubs' queues after this) as soon as the window has been read.
            var warmup = settings.Warmup > MinWarmup ? settings.Warmup : MinWarmup;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var cycles = new List<double>();
            var failed = new Dictionary<string, int>(StringComparer.Ordinal);
            var loops = Enumerable.Range(0, Apps).Select(worker => Task.Run(async () =>
            {
                await Task.Delay(worker * Stagger, stop.Token);
                while (!stop.IsCancellationRequested)
                {
                    var started = Stopwatch.GetTimestamp();
                    var failure = await Cycle(stop.Token);
                    lock (cycles)
                    {
                        if (failure is null)
                        {
                            cycles.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        }
                        else
                        {
                            failed[failure] = failed.GetValueOrDefault(failure) + 1;
                        }
                    }
                }
            }, stop.Token)).ToList();

            await Task.Delay(warmup, ct);
            var (before, from) = (await cpu.ReadAsync(ct), await CeilingCounts.ReadAsync(dataSource, stubs, ct));
            await Task.Delay(settings.Duration, ct);
            var (after, to) = (await cpu.ReadAsync(ct), await CeilingCounts.ReadAsync(dataSource, stubs, ct));
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(loops);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }

            var failures = stubs.Select(s => s.Failures).ToList();
            return new CeilingResult(to - from, CpuMeter.Between(before, after), warmup, Timings.From(cycles), failed, failures.Sum(f => f.Count),
                failures.Select(f => f.Last).LastOrDefault(l => l is not null));
        }
        finally
        {
            foreach (var stub in stubs)
            {
                await stub.DisposeAsync();
            }
        }
    }
}

/// <summary>
/// What the engine did in the measured window and what it cost: <see cref="Counts"/> from the database,
/// <see cref="Cpu"/> by party (the stub relays run in the bench's process), and the loops' cycles (create, deploy,
/// remove) that ended, with their failures, over the whole run.
/// </summary>
public sealed record CeilingResult(CeilingCounts Counts, CpuUse Cpu, TimeSpan Warmup, Timings Cycles, IReadOnlyDictionary<string, int> CycleFailures, int StubFailures,
    string? LastStubFailure)
{
    public double Seconds => Counts.Elapsed.TotalSeconds;

    public double StepsPerSecond => Counts.Steps / Seconds;
}
