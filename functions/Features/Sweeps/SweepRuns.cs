using System.Text.Json;
using Npgsql;

namespace Automator67.Functions.Features.Sweeps;

/// <summary>
/// Records each sweep run (a67.sweep_runs: when, how long, in which process, what it did; runs older than a day go) and
/// its duration in the <c>a67_sweep_duration_seconds</c> histogram of <c>/metrics</c>.
/// </summary>
public static class SweepRuns
{
    static readonly string Process = $"{Environment.MachineName}:{Environment.ProcessId}";

    public static async Task RecordAsync(NpgsqlDataSource dataSource, string sweep, DateTimeOffset startedAt, TimeSpan duration,
        IReadOnlyDictionary<string, object?> detail, CancellationToken ct)
    {
        Metrics.ControlPlaneMeter.RecordSweep(sweep, duration);
        await using var command = dataSource.CreateCommand("""
            INSERT INTO a67.sweep_runs (sweep, started_at, duration_ms, process, detail) VALUES (@sweep, @at, @ms, @process, @detail::jsonb);
            DELETE FROM a67.sweep_runs WHERE sweep = @sweep AND started_at < @at - interval '1 day';
            """);
        command.Parameters.AddWithValue("sweep", sweep);
        command.Parameters.AddWithValue("at", startedAt);
        command.Parameters.AddWithValue("ms", (int)Math.Min(int.MaxValue, duration.TotalMilliseconds));
        command.Parameters.AddWithValue("process", Process);
        command.Parameters.AddWithValue("detail", JsonSerializer.Serialize(detail));
        await command.ExecuteNonQueryAsync(ct);
    }
}
