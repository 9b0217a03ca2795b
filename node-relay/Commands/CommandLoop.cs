using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Run;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Commands;

/// <summary>
/// The relay's command loop. Steps, per message:
/// 1. receive (up to 16 at a time, as many as there are free slots), and hold it invisible while working on it;
/// 2. verify it (signature and kid, node id, shape); look it up in the journal: a redelivery of an executed command
///    has its result sent again, a replay in another message is refused; an expired command is refused;
/// 3. execute it, record it in the journal, send its signed result, then delete the message.
/// Polls again at once after work, backs off to <see cref="RelayOptions.MaxPollInterval"/> when idle, and with
/// jitter when the queue is unreachable. On SIGTERM it takes nothing new and gives running commands
/// <see cref="RelayOptions.ShutdownGrace"/>; what is unfinished then is abandoned to be redelivered.
/// </summary>
public sealed partial class CommandLoop(
    RelayQueues queues,
    CommandVerifier verifier,
    CommandJournal journal,
    CommandExecutor executor,
    EventSender events,
    CredentialRenewer renewer,
    IOptions<RelayOptions> options,
    TimeProvider time,
    ILogger<CommandLoop> logger) : BackgroundService
{
    const int MaxBatch = 16;
    const int MaxDeliveries = 5;
    static readonly TimeSpan FirstIdleDelay = TimeSpan.FromMilliseconds(50);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var slots = new SemaphoreSlim(settings.MaxConcurrentCommands, settings.MaxConcurrentCommands);
        // Running commands outlive stoppingToken by the grace period, then are cancelled and abandoned.
        using var hardStop = new CancellationTokenSource();
        await using var graceOnStop = stoppingToken.Register(() => hardStop.CancelAfter(settings.ShutdownGrace));
        var running = new HashSet<Task>();
        var idle = TimeSpan.Zero;
        var failures = 0;
        LogStarted(queues.Commands.Name, settings.MaxPollInterval);

        while (!stoppingToken.IsCancellationRequested)
        {
            int free;
            try
            {
                await slots.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            for (free = 1; free < MaxBatch && slots.Wait(0, CancellationToken.None); free++)
            {
            }

            QueueMessage[] messages;
            try
            {
                messages = (await queues.Commands.ReceiveMessagesAsync(free, settings.VisibilityTimeout, stoppingToken)).Value;
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                slots.Release(free);
                break;
            }
            catch (Exception ex)
            {
                slots.Release(free);
                if (RelayQueues.IsCredentialRefusal(ex))
                {
                    renewer.Request("the command queue refused the credentials");
                }

                var delay = Backoff.Delay(++failures, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
                LogReceiveFailed(failures, delay, ex.GetBaseException().Message);
                await DelayAsync(delay, stoppingToken);
                continue;
            }

            if (free > messages.Length)
            {
                slots.Release(free - messages.Length);
            }

            foreach (var message in messages)
            {
                var task = ProcessAndReleaseAsync(message, slots, hardStop.Token);
                lock (running)
                {
                    running.Add(task);
                }

                _ = task.ContinueWith(t =>
                {
                    lock (running)
                    {
                        running.Remove(t);
                    }
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            if (messages.Length > 0)
            {
                idle = TimeSpan.Zero;
                continue;
            }

            idle = idle == TimeSpan.Zero ? FirstIdleDelay : TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, settings.MaxPollInterval.Ticks));
            await DelayAsync(idle, stoppingToken);
        }

        Task[] pending;
        lock (running)
        {
            pending = [.. running];
        }

        LogStopping(pending.Length, settings.ShutdownGrace);
        await Task.WhenAll(pending);
    }

    async Task ProcessAndReleaseAsync(QueueMessage message, SemaphoreSlim slots, CancellationToken ct)
    {
        // Off the receiving loop at once: a long pull must not hold up the next receive.
        await Task.Yield();
        try
        {
            await ProcessAsync(message, ct);
        }
        catch (Exception ex)
        {
            // One bad message must never stop the relay; it comes back after its visibility timeout.
            LogUnexpected(ex, message.MessageId);
        }
        finally
        {
            slots.Release();
        }
    }

    async Task ProcessAsync(QueueMessage message, CancellationToken ct)
    {
        await using var lease = new CommandLease(queues.Commands, message, options.Value.VisibilityTimeout, time, logger);
        CommandResult result;
        try
        {
            result = await DecideAsync(message, ct);
            await events.SendResultAsync(result, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            LogAbandoned(message.MessageId);
            await lease.AbandonAsync();
            return;
        }

        // Deleted only now, after the result is on its way: a crash before this line means a redelivery, which the
        // journal answers with the same result.
        await lease.CompleteAsync(ct.IsCancellationRequested ? CancellationToken.None : ct);
        LogAnswered(result.CommandId, result.Kind, result.Status, result.DurationMs, result.Error ?? "");
    }

    async Task<CommandResult> DecideAsync(QueueMessage message, CancellationToken ct)
    {
        var (command, refusal) = await verifier.VerifyAsync(message.Body.ToString(), ct);
        if (command is null)
        {
            LogRefused(refusal!.CommandId, message.MessageId, refusal.Error);
            return refusal;
        }

        if (journal.TryGet(command.CommandId, out var done))
        {
            if (done.MessageId != message.MessageId)
            {
                var reason = $"replayed: command {command.CommandId} was executed already, at {done.ExecutedAt:O} ({done.Status})";
                LogRefused(command.CommandId, message.MessageId, reason);
                return CommandVerifier.Refused(command, reason, done.Result is { } first ? JsonSerializer.SerializeToElement(first, RelayJsonContext.Default.CommandResult) : null);
            }

            if (done.Result is { } stored)
            {
                LogRedelivered(command.CommandId, message.MessageId);
                return stored;
            }
        }
        else if (CommandVerifier.IsExpired(command, time.GetUtcNow()))
        {
            var reason = $"expired at {command.ExpiresAt:O}";
            LogRefused(command.CommandId, message.MessageId, reason);
            return CommandVerifier.Refused(command, reason);
        }
        else if (message.DequeueCount > MaxDeliveries)
        {
            // Something about this command keeps the relay from finishing it (it crashes or stops each time): stop trying.
            var reason = $"delivered {message.DequeueCount} times without an answer; given up";
            LogRefused(command.CommandId, message.MessageId, reason);
            return CommandVerifier.Refused(command, reason);
        }

        var result = await executor.ExecuteAsync(command, ct);
        journal.Record(new JournalEntry(command.CommandId, message.MessageId, command.Kind, time.GetUtcNow(), command.ExpiresAt, result.Status,
            CommandExecutor.IsReadOnly(command.Kind) ? null : result));
        return result;
    }

    async Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, time, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
