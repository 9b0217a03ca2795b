using System.Collections.Concurrent;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// Notices when the control plane has applied a command's result: the row in <c>a67.relay_commands</c> leaves
/// Pending in the transaction that the events consumer commits. The product's own waiter
/// (<c>CommandResults.WaitAsync</c>) is woken in the consumer's process and re-reads the table only every 500 ms from
/// any other; the bench, another process, polls instead: one query for every command still awaited, every
/// <see cref="PollInterval"/>, so the sender sees an applied result at most that much late (half of it on average).
/// </summary>
public sealed class AppliedResults : IAsyncDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    readonly NpgsqlDataSource _dataSource;
    readonly ConcurrentDictionary<Guid, TaskCompletionSource<AppliedResult>> _awaited = new();
    readonly CancellationTokenSource _stop = new();
    readonly Task _polling;

    public AppliedResults(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        _polling = Task.Run(() => PollAsync(_stop.Token));
    }

    /// <summary>The command's applied result; cancelled with <paramref name="ct"/>.</summary>
    public async Task<AppliedResult> WaitAsync(Guid commandId, CancellationToken ct)
    {
        var awaited = _awaited.GetOrAdd(commandId, _ => new TaskCompletionSource<AppliedResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            return await awaited.Task.WaitAsync(ct);
        }
        finally
        {
            _awaited.TryRemove(commandId, out _);
        }
    }

    async Task PollAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(PollInterval);
        while (await timer.WaitForNextTickAsync(ct))
        {
            if (_awaited.IsEmpty)
            {
                continue;
            }

            try
            {
                await using var query = _dataSource.CreateCommand("""
                    SELECT id, status, result->>'error', completed_at - created_at
                    FROM a67.relay_commands WHERE id = ANY(@ids) AND status <> 'Pending'
                    """);
                query.Parameters.AddWithValue("ids", _awaited.Keys.ToArray());
                await using var reader = await query.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    if (_awaited.TryGetValue(reader.GetGuid(0), out var awaited))
                    {
                        awaited.TrySetResult(new AppliedResult(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetFieldValue<TimeSpan>(3)));
                    }
                }
            }
            catch (NpgsqlException) when (!ct.IsCancellationRequested)
            {
                // A failed poll is retried on the next tick; a command that never completes times out at its sender.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _polling;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

/// <summary>
/// A command's outcome as the control plane stored it: its status (Succeeded, Failed, Refused, Expired), the relay's
/// error if any, and the product's own latency, <c>completed_at − created_at</c> (signed → result being applied).
/// </summary>
public sealed record AppliedResult(string Status, string? Error, TimeSpan Latency);
