using Npgsql;

namespace Automator67.Functions.Features.Operations;

/// <summary>
/// The Hangfire side of operations: a scheduled wake-up advances one operation (by id: jobs carry ids only), and the
/// recovery job advances every active operation that nothing advanced in time — its process died, a wake-up was
/// lost, a result was applied by a process that crashed before it could advance. Both are re-entrant: an advance
/// with nothing due changes nothing.
/// </summary>
public sealed partial class OperationJobs(OperationEngine engine, NpgsqlDataSource dataSource, TimeProvider time, ILogger<OperationJobs> logger)
{
    public const string RecoveryJobId = "operations-recovery";

    /// <summary>An operation that should have been advanced this long ago counts as stalled.</summary>
    static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Advances the operation. When the secrets' key-encryption key cannot be read (the vault is away) the advance
    /// changes nothing and the job fails: Hangfire tries it again, and so does the recovery job, until the key is back.
    /// </summary>
    public Task AdvanceAsync(Guid operationId, CancellationToken ct) => engine.AdvanceAsync(operationId, ct);

    [Hangfire.DisableConcurrentExecution(60)]
    public async Task RecoverAsync(CancellationToken ct)
    {
        var stalled = new List<Guid>();
        await using (var command = dataSource.CreateCommand("""
            SELECT id FROM a67.operations
            WHERE status IN ('Pending', 'Running', 'RollingBack') AND (wake_at IS NULL OR wake_at <= @due)
            ORDER BY wake_at NULLS FIRST LIMIT 200
            """))
        {
            command.Parameters.AddWithValue("due", time.GetUtcNow() - Grace);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                stalled.Add(reader.GetGuid(0));
            }
        }

        foreach (var id in stalled)
        {
            try
            {
                await engine.AdvanceAsync(id, ct);
            }
            catch (Exception ex) when (ex is NpgsqlException or Azure.RequestFailedException or InvalidOperationException or Secrets.KeyUnavailableException)
            {
                // One operation's trouble must not hold up the others; it is tried again next time.
                LogRecoveryFailed(ex, id);
            }
        }

        if (stalled.Count > 0)
        {
            LogRecovered(stalled.Count);
        }
    }

    [LoggerMessage(EventId = 1710, Level = LogLevel.Information, Message = "Recovery advanced {Count} stalled operation(s)")]
    partial void LogRecovered(int count);

    [LoggerMessage(EventId = 1711, Level = LogLevel.Warning, Message = "Recovery could not advance operation {OperationId}")]
    partial void LogRecoveryFailed(Exception exception, Guid operationId);
}
