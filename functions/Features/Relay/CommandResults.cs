using System.Collections.Concurrent;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Npgsql;

namespace Automator67.Functions.Features.Relay;

/// <summary>
/// Where command results meet whoever waits for them. The events consumer calls <see cref="Complete"/> after a
/// result is committed, which wakes waiters in this process at once; a waiter also re-reads
/// <c>a67.relay_commands</c> every <see cref="PollInterval"/>, so a result applied by another control-plane process
/// is seen too (later, orchestrations advance straight from the consumer instead of waiting).
/// </summary>
public sealed class CommandResults(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    readonly ConcurrentDictionary<Guid, TaskCompletionSource<CommandOutcome>> _waiters = new();

    /// <summary>Wakes the waiters of a command whose result has just been committed.</summary>
    public void Complete(CommandOutcome outcome)
    {
        if (_waiters.TryRemove(outcome.CommandId, out var waiter))
        {
            waiter.TrySetResult(outcome);
        }
    }

    /// <summary>The command's outcome once it is no longer Pending, or null if it still is after <paramref name="timeout"/>.</summary>
    public async Task<CommandOutcome?> WaitAsync(Guid commandId, TimeSpan timeout, CancellationToken ct)
    {
        var waiter = _waiters.GetOrAdd(commandId, _ => new TaskCompletionSource<CommandOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        var deadline = time.GetUtcNow() + timeout;
        try
        {
            while (true)
            {
                if (await FindAsync(commandId, ct) is { Status: not CommandStatuses.Pending } done)
                {
                    return done;
                }

                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    return null;
                }

                try
                {
                    return await waiter.Task.WaitAsync(remaining < PollInterval ? remaining : PollInterval, time, ct);
                }
                catch (TimeoutException)
                {
                }
            }
        }
        finally
        {
            _waiters.TryRemove(new KeyValuePair<Guid, TaskCompletionSource<CommandOutcome>>(commandId, waiter));
        }
    }

    public async Task<CommandOutcome?> FindAsync(Guid commandId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT node_id, kind, status, created_at, completed_at, result::text FROM a67.relay_commands WHERE id = @id");
        command.Parameters.AddWithValue("id", commandId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        return new CommandOutcome(commandId, reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
            reader.IsDBNull(5) ? null : JsonSerializer.Deserialize(reader.GetString(5), RelayJsonContext.Default.CommandResult));
    }
}
