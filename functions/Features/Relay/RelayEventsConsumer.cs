using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Queues;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Relay;

/// <summary>
/// The queue function of <c>a67-relay-events</c>: receives batches of 32, applies each message in a DI scope of its
/// own (<see cref="RelayEventProcessor"/>) and deletes it only after its effect is committed, so a crash or a stop
/// mid-batch loses nothing (an undeleted message comes back after the visibility timeout, and applied event ids are
/// recognised). Polls again at once after work and backs off to <see cref="RelayEventsOptions.MaxPollInterval"/>
/// when idle. A message that keeps failing goes to <c>a67-relay-events-poison</c> after
/// <see cref="RelayEventsOptions.MaxDequeueCount"/> deliveries, audited; while the database is down, messages are
/// left alone instead of being burnt through their deliveries.
/// </summary>
public sealed partial class RelayEventsConsumer(
    IServiceProvider services,
    IServiceScopeFactory scopes,
    IOptions<QueueOptions> queueOptions,
    IOptions<RelayEventsOptions> options,
    DatabaseState database,
    NpgsqlDataSource dataSource,
    CommandResults results,
    AuditLog audit,
    TimeProvider time,
    ILogger<RelayEventsConsumer> logger) : BackgroundService
{
    static readonly TimeSpan FirstIdleDelay = TimeSpan.FromMilliseconds(20);
    static readonly TimeSpan MaxOutageDelay = TimeSpan.FromSeconds(30);

    /// <summary>After a stop is requested, how long the batch in hand may take to finish.</summary>
    static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Consume)
        {
            return;
        }

        try
        {
            await database.WhenReadyAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var settings = options.Value;
        // Resolved only now: hosted services are built before settings are validated, and a malformed connection
        // string must end the start with its one-line message, not crash the process here.
        var queues = services.GetRequiredService<QueueServiceClient>();
        var events = queues.GetQueueClient(QueueNames.RelayEvents(queueOptions.Value.Prefix));
        var poison = queues.GetQueueClient(QueueNames.Poison(events.Name));
        using var batchCancel = new CancellationTokenSource();
        await using var onStop = stoppingToken.Register(() => batchCancel.CancelAfter(StopGrace));
        var ready = false;
        var idle = TimeSpan.Zero;
        var outage = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            QueueMessage[] batch;
            try
            {
                if (!ready)
                {
                    await events.CreateIfNotExistsAsync(cancellationToken: stoppingToken);
                    await poison.CreateIfNotExistsAsync(cancellationToken: stoppingToken);
                    ready = true;
                    LogStarted(events.Name, settings.Concurrency);
                }

                batch = (await events.ReceiveMessagesAsync(RelayEventsOptions.BatchSize, settings.VisibilityTimeout, stoppingToken)).Value;
                outage = TimeSpan.FromSeconds(1);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogQueueUnavailable(events.Name, outage, ex.GetBaseException().Message);
                await DelayAsync(outage, stoppingToken);
                outage = Min(outage * 2, MaxOutageDelay);
                continue;
            }

            if (batch.Length == 0)
            {
                idle = idle == TimeSpan.Zero ? FirstIdleDelay : Min(idle * 2, settings.MaxPollInterval);
                await DelayAsync(idle, stoppingToken);
                continue;
            }

            idle = TimeSpan.Zero;
            // The batch in hand finishes even when a stop is requested: its effects and its deletes belong together.
            if (!await ProcessBatchAsync(events, poison, batch, batchCancel.Token))
            {
                await WaitForDatabaseAsync(stoppingToken);
            }
        }

        LogStopped(events.Name);
    }

    /// <summary>False when the database failed under the batch: the caller waits for it before receiving more.</summary>
    async Task<bool> ProcessBatchAsync(QueueClient events, QueueClient poison, QueueMessage[] batch, CancellationToken ct)
    {
        var databaseUp = true;
        try
        {
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = options.Value.Concurrency, CancellationToken = ct }, async (message, token) =>
            {
                if (!await HandleAsync(events, poison, message, token))
                {
                    databaseUp = false;
                }
            });
        }
        catch (OperationCanceledException)
        {
            // Stopped past the grace period: the messages not deleted come back after their visibility timeout.
        }

        return databaseUp;
    }

    async Task<bool> HandleAsync(QueueClient events, QueueClient poison, QueueMessage message, CancellationToken ct)
    {
        var text = message.Body.ToString();
        try
        {
            if (message.DequeueCount > options.Value.MaxDequeueCount)
            {
                await PoisonAsync(events, poison, message, text, $"delivered {message.DequeueCount} times without being applied", ct);
                return true;
            }

            EventOutcome outcome;
            await using (var scope = scopes.CreateAsyncScope())
            {
                outcome = await scope.ServiceProvider.GetRequiredService<RelayEventProcessor>().ProcessAsync(text, message.MessageId, message.InsertedOn, ct);
            }

            await DeleteAsync(events, message, ct);
            switch (outcome)
            {
                case EventOutcome.Applied { Completed: { } completed }:
                    results.Complete(completed);
                    await NotifyAsync(completed, ct);
                    break;
                case EventOutcome.Applied { Result: ApplyResult.Duplicate }:
                    LogDuplicate(message.MessageId);
                    break;
                case EventOutcome.Refused refused:
                    LogRefused(refused.ClaimedNodeId, refused.Reason, message.MessageId);
                    break;
            }

            return true;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (IsDatabaseOutage(ex))
        {
            LogDatabaseUnavailable(message.MessageId, ex.GetBaseException().Message);
            return false;
        }
        catch (Exception ex)
        {
            LogFailed(ex, message.MessageId, message.DequeueCount);
            await GiveBackAsync(events, poison, message, text, ex, ct);
            return true;
        }
    }

    // The result is committed and its message deleted: a listener that fails now (an operation that cannot advance)
    // is caught up by its own recovery, never by redelivering the event.
    async Task NotifyAsync(CommandOutcome completed, CancellationToken ct)
    {
        // Resolved on use, not at start: what the listeners need (the queue client) must not stop the host from
        // starting and naming a bad setting in one line.
        foreach (var listener in services.GetServices<ICommandResultListener>())
        {
            try
            {
                await listener.OnCompletedAsync(completed, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogListenerFailed(ex, completed.CommandId);
            }
        }
    }

    /// <summary>A failed message: to the poison queue on its last delivery, else back to the queue after a short back-off.</summary>
    async Task GiveBackAsync(QueueClient events, QueueClient poison, QueueMessage message, string text, Exception failure, CancellationToken ct)
    {
        try
        {
            if (message.DequeueCount >= options.Value.MaxDequeueCount)
            {
                await PoisonAsync(events, poison, message, text, $"failed on each of {message.DequeueCount} deliveries ({failure.GetType().Name})", ct);
                return;
            }

            var backOff = Min(TimeSpan.FromSeconds(Math.Pow(2, Math.Min(message.DequeueCount, 10))), options.Value.VisibilityTimeout);
            await events.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: backOff, cancellationToken: ct);
        }
        catch (Exception ex) when (ex is RequestFailedException or AggregateException or HttpRequestException)
        {
            // It comes back after its visibility timeout all the same.
            LogGiveBackFailed(message.MessageId, ex.GetBaseException().Message);
        }
    }

    /// <summary>Copies the message to the poison queue (kept until someone deletes it), then deletes it here, and audits it.</summary>
    async Task PoisonAsync(QueueClient events, QueueClient poison, QueueMessage message, string text, string reason, CancellationToken ct)
    {
        await poison.SendMessageAsync(text, visibilityTimeout: null, timeToLive: TimeSpan.FromSeconds(-1), ct);
        await DeleteAsync(events, message, ct);
        var claimed = Jws.PeekKid(text) is { } kid ? new string([.. kid.Where(c => !char.IsControl(c)).Take(64)]) : null;
        await audit.WriteAsync(new AuditEvent(AuditTypes.RelayEventPoisoned, null, null, null, null, new Dictionary<string, object?>
        {
            ["nodeId"] = claimed,
            ["reason"] = reason,
            ["messageId"] = message.MessageId,
            ["dequeueCount"] = message.DequeueCount,
            ["insertedOn"] = message.InsertedOn,
        }), ct);
        LogPoisoned(message.MessageId, claimed, message.DequeueCount, reason);
    }

    async Task DeleteAsync(QueueClient events, QueueMessage message, CancellationToken ct)
    {
        try
        {
            await events.DeleteMessageAsync(message.MessageId, message.PopReceipt, ct);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Its visibility ran out and another consumer holds it now: the effect is committed, and that consumer will
            // find the event id applied already.
            LogDeleteLost(message.MessageId);
        }
    }

    async Task WaitForDatabaseAsync(CancellationToken ct)
    {
        for (var delay = TimeSpan.FromSeconds(1); !ct.IsCancellationRequested; delay = Min(delay * 2, MaxOutageDelay))
        {
            await DelayAsync(delay, ct);
            try
            {
                await using var probe = dataSource.CreateCommand("SELECT 1");
                await probe.ExecuteScalarAsync(ct);
                return;
            }
            catch (Exception ex) when (IsDatabaseOutage(ex))
            {
            }
        }
    }

    static bool IsDatabaseOutage(Exception ex) =>
        ex is NpgsqlException { IsTransient: true } or TimeoutException || ex.InnerException is NpgsqlException { IsTransient: true } or TimeoutException;

    Task DelayAsync(TimeSpan delay, CancellationToken ct) => Task.Delay(delay, time, ct).ContinueWith(_ => { }, TaskScheduler.Default);

    static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
