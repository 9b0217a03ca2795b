using System.Collections.Concurrent;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// Notices when operations end, for the engine's ceiling, where many run at once: one query every
/// <see cref="PollInterval"/> for every operation still awaited (<c>a67.operations</c>, status no longer Pending,
/// Running or RollingBack), instead of a <c>GET /api/operations/{id}</c> per operation and poll, which would load the
/// control plane with the watching (each answer carries the whole history).
/// </summary>
public sealed class OperationWatch : IAsyncDisposable
{
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    readonly NpgsqlDataSource _dataSource;
    readonly ConcurrentDictionary<Guid, TaskCompletionSource<(string Status, string? Reason)>> _awaited = new();
    readonly CancellationTokenSource _stop = new();
    readonly Task _polling;

    public OperationWatch(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        _polling = Task.Run(() => PollAsync(_stop.Token));
    }

    /// <summary>The operation's end status and reason.</summary>
    public async Task<(string Status, string? Reason)> WaitAsync(Guid operationId, CancellationToken ct)
    {
        var awaited = _awaited.GetOrAdd(operationId, _ => new TaskCompletionSource<(string, string?)>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            return await awaited.Task.WaitAsync(ct);
        }
        finally
        {
            _awaited.TryRemove(operationId, out _);
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
                    SELECT id, status, reason FROM a67.operations
                    WHERE id = ANY(@ids) AND status NOT IN ('Pending', 'Running', 'RollingBack')
                    """);
                query.Parameters.AddWithValue("ids", _awaited.Keys.ToArray());
                await using var reader = await query.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    if (_awaited.TryGetValue(reader.GetGuid(0), out var awaited))
                    {
                        awaited.TrySetResult((reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
                    }
                }
            }
            catch (NpgsqlException) when (!ct.IsCancellationRequested)
            {
                // Tried again on the next tick; a waiter that never hears back is bounded by its own token.
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
