using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// Notices when operations end, for the engine's ceiling, where many run at once: <c>a67.operations</c> rows whose
/// status is no longer Pending, Running or RollingBack, polled every 20 ms, instead of a <c>GET /api/operations/{id}</c>
/// per operation and poll, which would load the control plane with the watching (each answer carries the whole history).
/// </summary>
public static class OperationWatch
{
    /// <summary>A watch whose answer is an operation's end status and reason.</summary>
    public static RowWatch<(string Status, string? Reason)> Start(NpgsqlDataSource dataSource) => new(dataSource, """
        SELECT id, status, reason FROM a67.operations
        WHERE id = ANY(@ids) AND status NOT IN ('Pending', 'Running', 'RollingBack')
        """, reader => (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)), TimeSpan.FromMilliseconds(20));
}
