using System.Diagnostics;
using Npgsql;

namespace Automator67.Bench;

public sealed record SweepResult(IReadOnlyList<string> RecurringJobsRemoved, TimeSpan Insert, double UpdateNodesMs, double ReadFleetMs, SweepPass Health, SweepPass Reconcile, IngestionResult Ingestion);

/// <summary>
/// Issue 6's benchmark: one health sweep and one reconcile pass of the real control plane over
/// <see cref="SweepData"/>'s 10,000 nodes and 50,000 replicas, beside two statements over the same rows timed in the
/// same run (one UPDATE of every node, the health sweep's kind of write; one read of every replica with its app and
/// release and of every inventory, what the reconcile sweep reads node by node); then heartbeat ingestion through the
/// events queue (<see cref="HeartbeatIngestion"/>).
/// </summary>
public static class SweepWorkload
{
    /// <summary>Heartbeat ages: fresh nodes just beat, late ones are Unreachable (past 3 × 10 s), lost ones past the 2-minute grace.</summary>
    const string Ages = """
        last_heartbeat_at = now() - CASE labels->>'sweep-bench' WHEN 'lost' THEN interval '5 minutes' WHEN 'late' THEN interval '60 seconds' ELSE interval '0' END
        """;

    public static async Task<SweepResult> RunAsync(BenchSettings settings, RunResources resources, ControlPlaneProcess controlPlane, CancellationToken ct)
    {
        // Writing the fleet and the baselines take longer than Npgsql's default 30 s on a busy machine.
        await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(resources.ConnectionString) { CommandTimeout = 600 }.ConnectionString);
        var databaseCpu = new DatabaseCpu(settings.Postgres, settings.DatabaseName);
        var passes = new SweepPasses(db, resources.ConnectionString, controlPlane, databaseCpu);
        await passes.TakeOverAsync(ct);

        var clock = Stopwatch.GetTimestamp();
        using var data = await SweepData.InsertAsync(db, ct);
        var insert = Stopwatch.GetElapsedTime(clock);
        Console.Error.WriteLine($"sweeps: fleet written in {insert.TotalSeconds:0.0} s");

        var readFleet = await MedianMsAsync(() => ReadFleetAsync(db, ct));
        // The last of the three leaves every node with the age of its kind, just before the health pass.
        var updateNodes = await MedianMsAsync(() => ExecuteAsync(db, $"UPDATE a67.nodes SET {Ages}, unreachable_at = NULL, lost_at = NULL", ct));
        var health = await passes.RunAsync("health", ct);

        // The fresh nodes beat again (and their inventories arrive), so the reconcile pass sees them as a relay's would be.
        await ExecuteAsync(db, $"UPDATE a67.nodes SET {Ages} WHERE labels->>'sweep-bench' = 'fresh'", ct);
        await ExecuteAsync(db, "UPDATE a67.node_inventory SET sent_at = now(), received_at = now()", ct);
        var reconcile = await passes.RunAsync("reconcile", ct);

        var ingestion = await HeartbeatIngestion.RunAsync(settings, db, data, controlPlane, databaseCpu, ct);
        return new SweepResult(passes.Removed, insert, updateNodes, readFleet, health, reconcile, ingestion);
    }

    static async Task<double> MedianMsAsync(Func<Task> statement)
    {
        var samples = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.GetTimestamp();
            await statement();
            samples.Add(Stopwatch.GetElapsedTime(clock).TotalMilliseconds);
        }

        return samples.Order().ElementAt(1);
    }

    static async Task ExecuteAsync(NpgsqlDataSource db, string sql, CancellationToken ct)
    {
        await using var command = db.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Every live replica with what the reconcile sweep reads of it, and every fresh node's inventory, read to the end.</summary>
    static async Task ReadFleetAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            SELECT r.id, r.app_id, a.name, rel.number, r.slot, r.generation, r.state, r.healthy_at, r.crashes, r.first_crash_at, r.restart_count_seen,
                   r.restart_due_at, r.crashed_run_at, r.restart_sent_at, r.crash_looping_at, r.last_error, a.stopped, r.ports::text
            FROM a67.replicas r JOIN a67.apps a ON a.id = r.app_id JOIN a67.releases rel ON rel.id = r.release_id
            WHERE r.state NOT IN ('Removed', 'Failed')
            """));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            SELECT n.id, n.account_id, n.name, i.sent_at, i.containers::text FROM a67.nodes n JOIN a67.node_inventory i ON i.node_id = n.id
            """));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        do
        {
            while (await reader.ReadAsync(ct))
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    _ = reader.GetValue(i);
                }
            }
        }
        while (await reader.NextResultAsync(ct));
    }
}
