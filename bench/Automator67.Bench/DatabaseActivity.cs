using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// What PostgreSQL's cumulative statistics say the run's database did: committed transactions
/// (<c>pg_stat_database.xact_commit</c>), and, per schema, the table scans statements made (<c>seq_scan + idx_scan</c>
/// of <c>pg_stat_user_tables</c>: one per table a statement's plan reads, by index or whole) and the rows they
/// inserted, updated and deleted. pg_stat_statements is not loaded on the local stack's cluster (it needs
/// shared_preload_libraries and a restart of a server other sessions share), so statements themselves are not counted.
/// Backends report their counters at most once a second while busy and within 10 s once idle, so a reading is
/// complete only <see cref="FlushDelay"/> after the work.
/// </summary>
public sealed record DatabaseActivity(long Transactions, long A67Scans, long A67RowsWritten, long HangfireScans, long HangfireRowsWritten)
{
    public static readonly TimeSpan FlushDelay = TimeSpan.FromSeconds(11);

    public static async Task<DatabaseActivity> ReadAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        // A connection of its own each time: statistics are a snapshot per transaction.
        await using var command = db.CreateCommand("""
            SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                   coalesce(sum(seq_scan + coalesce(idx_scan, 0)) FILTER (WHERE schemaname = 'a67'), 0)::bigint,
                   coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del) FILTER (WHERE schemaname = 'a67'), 0)::bigint,
                   coalesce(sum(seq_scan + coalesce(idx_scan, 0)) FILTER (WHERE schemaname = 'hangfire'), 0)::bigint,
                   coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del) FILTER (WHERE schemaname = 'hangfire'), 0)::bigint
            FROM pg_stat_user_tables
            """);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new DatabaseActivity(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
    }

    public static DatabaseActivity operator -(DatabaseActivity a, DatabaseActivity b) =>
        new(a.Transactions - b.Transactions, a.A67Scans - b.A67Scans, a.A67RowsWritten - b.A67RowsWritten, a.HangfireScans - b.HangfireScans,
            a.HangfireRowsWritten - b.HangfireRowsWritten);

    /// <summary>Scaled to another window's length (the background rate over a pass's window).</summary>
    public DatabaseActivity Scale(double factor) =>
        new((long)(Transactions * factor), (long)(A67Scans * factor), (long)(A67RowsWritten * factor), (long)(HangfireScans * factor), (long)(HangfireRowsWritten * factor));
}
