using Automator67.Functions.Features.Operations;
using Hangfire;
using Npgsql;

namespace Automator67.Functions.Features.Sweeps;

/// <summary>
/// Puts an app back to its desired replica count after the sweeps took replicas away (lost with a node, gone from
/// theirs): a heal operation on the app's current release, or, when an operation is already active, a nudge to it
/// (its step machine places what is missing). Apps that are stopped, never deployed or scaled to 0 are left alone.
/// </summary>
public sealed class AppHealer(NpgsqlDataSource dataSource, OperationStore operations, IBackgroundJobClient jobs)
{
    /// <returns>The operation that will put the replicas back, or null when nothing is missing.</returns>
    public async Task<Guid?> HealAsync(Guid appId, string why, CancellationToken ct)
    {
        Guid operationId;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            await using var app = new NpgsqlCommand("""
                SELECT a.account_id, a.name, a.current_release_id, a.replicas, a.stopped,
                       (SELECT count(*) FROM a67.replicas r WHERE r.app_id = a.id AND r.release_id = a.current_release_id
                          AND r.state NOT IN ('Removed', 'Failed', 'Lost'))
                FROM a67.apps a WHERE a.id = @id FOR UPDATE OF a
                """, connection, transaction);
            app.Parameters.AddWithValue("id", appId);
            Guid accountId, releaseId;
            string name;
            int replicas;
            long live;
            await using (var reader = await app.ExecuteReaderAsync(ct))
            {
                if (!await reader.ReadAsync(ct) || reader.IsDBNull(2) || reader.GetBoolean(4))
                {
                    return null;
                }

                (accountId, name, releaseId, replicas, live) = (reader.GetGuid(0), reader.GetString(1), reader.GetGuid(2), reader.GetInt32(3), reader.GetInt64(5));
            }

            if (await OperationStore.ActiveAsync(connection, transaction, appId, ct) is { } active)
            {
                jobs.Enqueue<OperationJobs>(j => j.AdvanceAsync(active, CancellationToken.None));
                return active;
            }

            if (live >= replicas)
            {
                return null;
            }

            operationId = await operations.InsertAsync(connection, transaction, new OperationStart(accountId, appId, name, OperationKinds.Heal, releaseId, replicas,
                releaseId, replicas, accountId, $"heal: put back {replicas - live} of {replicas} replica{(replicas == 1 ? "" : "s")} ({why})"), ct);
            await transaction.CommitAsync(ct);
        }

        jobs.Enqueue<OperationJobs>(j => j.AdvanceAsync(operationId, CancellationToken.None));
        return operationId;
    }
}
