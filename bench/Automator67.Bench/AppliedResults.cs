using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// Notices when the control plane has applied a command's result: the row in <c>a67.relay_commands</c> leaves
/// Pending in the transaction that the events consumer commits. The product's own waiter
/// (<c>CommandResults.WaitAsync</c>) is woken in the consumer's process and re-reads the table only every 500 ms from
/// any other; the bench, another process, polls instead: one query for every command still awaited, every
/// <see cref="PollInterval"/>, so the sender sees an applied result at most that much late (half of it on average).
/// </summary>
public static class AppliedResults
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    public static RowWatch<AppliedResult> Start(NpgsqlDataSource dataSource) => new(dataSource, """
        SELECT id, status, result->>'error', completed_at - created_at
        FROM a67.relay_commands WHERE id = ANY(@ids) AND status <> 'Pending'
        """, reader => new AppliedResult(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetFieldValue<TimeSpan>(3)), PollInterval);
}

/// <summary>
/// A command's outcome as the control plane stored it: its status (Succeeded, Failed, Refused, Expired), the relay's
/// error if any, and the product's own latency, <c>completed_at − created_at</c> (signed → result being applied).
/// </summary>
public sealed record AppliedResult(string Status, string? Error, TimeSpan Latency);
