using System.Collections.Concurrent;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// Waits, for many waiters at once, until rows of the control plane's database reach an end: one query every
/// <see cref="PollInterval"/> for every id still awaited, instead of a poll per waiter (which would load what is
/// measured with the watching). The query takes the awaited ids as <c>@ids</c> and returns, id first, the rows that
/// have ended; <c>read</c> turns the rest of such a row into the waiter's answer.
/// </summary>
public sealed class RowWatch<T> : IAsyncDisposable
{
    readonly NpgsqlDataSource _dataSource;
    readonly string _query;
    readonly Func<NpgsqlDataReader, T> _read;
    readonly ConcurrentDictionary<Guid, TaskCompletionSource<T>> _awaited = new();
    readonly CancellationTokenSource _stop = new();
    readonly Task _polling;

    public RowWatch(NpgsqlDataSource dataSource, string query, Func<NpgsqlDataReader, T> read, TimeSpan pollInterval)
    {
        _dataSource = dataSource;
        _query = query;
        _read = read;
        PollInterval = pollInterval;
        _polling = Task.Run(() => PollAsync(_stop.Token));
    }

    public TimeSpan PollInterval { get; }

    /// <summary>The row's answer once it has ended; cancelled with <paramref name="ct"/>.</summary>
    public async Task<T> WaitAsync(Guid id, CancellationToken ct)
    {
        var awaited = _awaited.GetOrAdd(id, _ => new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            return await awaited.Task.WaitAsync(ct);
        }
        finally
        {
            _awaited.TryRemove(id, out _);
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
                await using var query = _dataSource.CreateCommand(_query);
                query.Parameters.AddWithValue("ids", _awaited.Keys.ToArray());
                await using var reader = await query.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    if (_awaited.TryGetValue(reader.GetGuid(0), out var awaited))
                    {
                        awaited.TrySetResult(_read(reader));
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
