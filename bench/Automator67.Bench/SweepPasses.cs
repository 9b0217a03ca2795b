using System.Diagnostics;
using Automator67.Functions.Features.Sweeps;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.Storage;
using Npgsql;

namespace Automator67.Bench;

/// <summary>One sweep pass as the control plane ran it, and what the database did meanwhile.</summary>
public sealed record SweepPass(string Sweep, int DurationMs, TimeSpan Pickup, string Detail, DatabaseActivity Activity, DatabaseActivity Background,
    double ControlPlaneCpuMs, double? DatabaseCpuMs, int HealsCancelled);

/// <summary>
/// Runs the real sweeps one pass at a time in the control plane: once its recurring jobs are registered, the bench
/// removes them, and every other recurring job, through Hangfire's API (so no tick runs a pass it did not ask for, and
/// no other job's work lands in a pass's window) and enqueues the very job the
/// recurring one runs (<c>HealthSweep.RunAsync</c>, <c>ReconcileSweep.RunAsync</c>) into the control plane's Hangfire
/// storage; the control plane's job server runs it. The pass's time is the sweep's own, <c>a67.sweep_runs.duration_ms</c>.
/// Around it, the database's counters (<see cref="DatabaseActivity"/>): a quiet window of <see cref="QuietWindow"/>
/// first gives the background rate (Hangfire's polling, the other recurring jobs), shown beside the pass.
/// </summary>
public sealed class SweepPasses(NpgsqlDataSource db, string connectionString, ControlPlaneProcess controlPlane, DatabaseCpu databaseCpu)
{
    static readonly TimeSpan QuietWindow = TimeSpan.FromSeconds(6);

    /// <summary>/proc counts CPU in clock ticks of 10 ms (USER_HZ 100 on Linux).</summary>
    const double MsPerTick = 10;

    readonly PostgreSqlStorage _storage = CreateStorage(connectionString);

    /// <summary>The recurring jobs taken out of the control plane's schedule.</summary>
    public List<string> Removed { get; } = [];

    /// <summary>Waits for the control plane to register both sweeps, then removes every recurring job: passes run only when asked.</summary>
    public async Task TakeOverAsync(CancellationToken ct)
    {
        GlobalConfiguration.Configuration.UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings();
        var deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
        while (true)
        {
            using (var connection = _storage.GetConnection())
            {
                var ids = connection.GetRecurringJobs().Select(j => j.Id).ToHashSet();
                if (ids.Contains(HealthSweep.JobId) && ids.Contains(ReconcileSweep.JobId))
                {
                    break;
                }
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new InvalidOperationException("the control plane did not register its sweeps within 60 s");
            }

            await Task.Delay(200, ct);
        }

        // Every recurring job goes, not only the sweeps: the command-path health job, for one, pings every node heard
        // from lately each 30 s, 10,000 commands to queues that do not exist here, which would land in the passes.
        var manager = new RecurringJobManager(_storage);
        using (var connection = _storage.GetConnection())
        {
            foreach (var job in connection.GetRecurringJobs())
            {
                manager.RemoveIfExists(job.Id);
                Removed.Add(job.Id);
            }
        }

        // A tick enqueued before the removal runs over the empty fleet; let it finish.
        await Task.Delay(3000, ct);
    }

    public async Task<SweepPass> RunAsync(string sweep, CancellationToken ct)
    {
        await Task.Delay(DatabaseActivity.FlushDelay, ct);
        var quietStart = await DatabaseActivity.ReadAsync(db, ct);
        var quietClock = Stopwatch.GetTimestamp();
        await Task.Delay(QuietWindow, ct);
        var before = await DatabaseActivity.ReadAsync(db, ct);
        var quiet = Stopwatch.GetElapsedTime(quietClock);
        var lastRun = await LastRunAsync(sweep, ct);
        var cpu = controlPlane.CpuTime;
        var dbCpu = await databaseCpu.ReadAsync(ct);
        var windowClock = Stopwatch.GetTimestamp();
        var enqueuedAt = DateTimeOffset.UtcNow;
        var client = new BackgroundJobClient(_storage);
        _ = sweep == "health"
            ? client.Enqueue<HealthSweep>(s => s.RunAsync(CancellationToken.None))
            : client.Enqueue<ReconcileSweep>(s => s.RunAsync(CancellationToken.None));

        (long Id, int DurationMs, DateTimeOffset StartedAt, string Detail) run;
        while ((run = await LastRunAsync(sweep, ct)).Id == lastRun.Id)
        {
            if (Stopwatch.GetElapsedTime(windowClock) > TimeSpan.FromMinutes(15))
            {
                throw new InvalidOperationException($"the {sweep} sweep did not record a pass within 15 minutes");
            }

            await Task.Delay(100, ct);
        }

        var cpuMs = (controlPlane.CpuTime - cpu).TotalMilliseconds;
        var dbTicks = DatabaseCpu.Used(dbCpu, await databaseCpu.ReadAsync(ct));
        var cancelled = await CancelHealsAsync(ct);
        await Task.Delay(DatabaseActivity.FlushDelay, ct);
        var after = await DatabaseActivity.ReadAsync(db, ct);
        var window = Stopwatch.GetElapsedTime(windowClock);
        var background = (before - quietStart).Scale(window / quiet);
        return new SweepPass(sweep, run.DurationMs, run.StartedAt - enqueuedAt, run.Detail, after - before, background, cpuMs,
            dbTicks is { } ticks ? ticks * MsPerTick : null, cancelled);
    }

    /// <summary>
    /// Ends the heal operations a pass started, as soon as it is recorded: no relay stands behind the synthetic nodes
    /// (their command queues do not exist), so they would only record commands that cannot be sent and log a warning
    /// for each, and that work would land in the next pass's window.
    /// </summary>
    async Task<int> CancelHealsAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            UPDATE a67.operations SET status = 'Cancelled', finished_at = now(), updated_at = now(), reason = 'sweeps bench: no relay behind its synthetic nodes'
            WHERE status IN ('Pending', 'Running', 'RollingBack')
            """);
        return await command.ExecuteNonQueryAsync(ct);
    }

    async Task<(long Id, int DurationMs, DateTimeOffset StartedAt, string Detail)> LastRunAsync(string sweep, CancellationToken ct)
    {
        await using var command = db.CreateCommand("SELECT id, duration_ms, started_at, detail::text FROM a67.sweep_runs WHERE sweep = $1 ORDER BY id DESC LIMIT 1");
        command.Parameters.Add(new NpgsqlParameter { Value = sweep });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetInt64(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3)) : (0, 0, default, "");
    }

    static PostgreSqlStorage CreateStorage(string connectionString)
    {
        // The control plane's own storage settings (OrchestrationRuntime): its schema, not prepared from here.
        var options = new PostgreSqlStorageOptions { SchemaName = "hangfire", PrepareSchemaIfNecessary = false };
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
    }
}
