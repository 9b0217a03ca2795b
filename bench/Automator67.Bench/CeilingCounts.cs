using System.Diagnostics;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// Totals so far of what the engine did for the stub nodes, read from the database at one moment; two readings
/// subtracted give a window. Steps are commands whose result has been applied (<c>a67.relay_commands</c> no longer
/// Pending), by kind; every applied result advances its operation once, and scheduled wake-ups (Hangfire
/// <c>OperationJobs.AdvanceAsync</c> jobs, the first advance of each operation included) add the rest.
/// </summary>
public sealed record CeilingCounts(
    long Timestamp,
    IReadOnlyDictionary<string, long> StepsByKind,
    long FailedSteps,
    long Deploys,
    long Removes,
    long FailedOperations,
    long HealthyReplicas,
    long WakeUps)
{
    public long Steps => StepsByKind.Values.Sum();

    public TimeSpan Elapsed { get; init; }

    public static CeilingCounts operator -(CeilingCounts to, CeilingCounts from) =>
        new(to.Timestamp,
            to.StepsByKind.ToDictionary(k => k.Key, k => k.Value - from.StepsByKind.GetValueOrDefault(k.Key)),
            to.FailedSteps - from.FailedSteps,
            to.Deploys - from.Deploys,
            to.Removes - from.Removes,
            to.FailedOperations - from.FailedOperations,
            to.HealthyReplicas - from.HealthyReplicas,
            to.WakeUps - from.WakeUps)
        {
            Elapsed = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp),
        };

    public static async Task<CeilingCounts> ReadAsync(NpgsqlDataSource dataSource, IReadOnlyList<StubRelay> stubs, CancellationToken ct)
    {
        var nodes = stubs.Select(s => s.NodeId).ToArray();
        var steps = new Dictionary<string, long>(StringComparer.Ordinal);
        long failedSteps = 0;
        await using (var query = dataSource.CreateCommand("""
            SELECT kind, count(*) FILTER (WHERE status = 'Succeeded'), count(*) FILTER (WHERE status NOT IN ('Pending', 'Succeeded'))
            FROM a67.relay_commands WHERE node_id = ANY(@nodes) AND operation_id IS NOT NULL GROUP BY kind
            """))
        {
            query.Parameters.AddWithValue("nodes", nodes);
            await using var reader = await query.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                steps[reader.GetString(0)] = reader.GetInt64(1);
                failedSteps += reader.GetInt64(2);
            }
        }

        await using var totals = dataSource.CreateCommand("""
            WITH ops AS (SELECT o.id, o.kind, o.status FROM a67.operations o
                         WHERE o.account_id = (SELECT account_id FROM a67.nodes WHERE id = @node))
            SELECT (SELECT count(*) FROM ops WHERE kind = 'deploy' AND status = 'Succeeded'),
                   (SELECT count(*) FROM ops WHERE kind = 'remove' AND status = 'Succeeded'),
                   (SELECT count(*) FROM ops WHERE status NOT IN ('Pending', 'Running', 'RollingBack', 'Succeeded')),
                   (SELECT count(*) FROM a67.operation_history h JOIN ops ON ops.id = h.operation_id
                    WHERE h.type = 'result' AND h.step = 'health' AND h.message LIKE '% is healthy'),
                   (SELECT count(*) FROM hangfire.job WHERE invocationdata::jsonb->>'Method' = 'AdvanceAsync'
                    AND invocationdata::jsonb->>'Type' LIKE '%OperationJobs%')
            """);
        totals.Parameters.AddWithValue("node", nodes[0]);
        await using var row = await totals.ExecuteReaderAsync(ct);
        await row.ReadAsync(ct);
        return new CeilingCounts(Stopwatch.GetTimestamp(), steps, failedSteps, row.GetInt64(0), row.GetInt64(1), row.GetInt64(2), row.GetInt64(3), row.GetInt64(4));
    }
}
