using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Commands;

/// <summary>
/// Holds a received command message invisible for as long as the relay works on it: every third of the visibility
/// timeout it is extended (each extension gives a new pop receipt, which the final delete must use). If the relay
/// dies, the extensions stop and the message comes back after one visibility timeout, for redelivery.
/// </summary>
public sealed partial class CommandLease : IAsyncDisposable
{
    readonly QueueClient _queue;
    readonly TimeSpan _visibility;
    readonly TimeProvider _time;
    readonly ILogger _logger;
    readonly CancellationTokenSource _stop = new();
    readonly Task _keeper;
    readonly object _gate = new();
    string _popReceipt;

    public CommandLease(QueueClient queue, QueueMessage message, TimeSpan visibility, TimeProvider time, ILogger logger)
    {
        _queue = queue;
        MessageId = message.MessageId;
        _popReceipt = message.PopReceipt;
        _visibility = visibility;
        _time = time;
        _logger = logger;
        _keeper = KeepAsync(_stop.Token);
    }

    public string MessageId { get; }

    string PopReceipt
    {
        get
        {
            lock (_gate)
            {
                return _popReceipt;
            }
        }
        set
        {
            lock (_gate)
            {
                _popReceipt = value;
            }
        }
    }

    async Task KeepAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(_visibility / 3, _time, ct);
                try
                {
                    var receipt = await _queue.UpdateMessageAsync(MessageId, PopReceipt, visibilityTimeout: _visibility, cancellationToken: ct);
                    PopReceipt = receipt.Value.PopReceipt;
                }
                catch (Exception ex) when (ex is RequestFailedException or HttpRequestException or IOException or TimeoutException)
                {
                    // Keep trying: if the queue comes back before the message is visible again, nothing was lost;
                    // if not, the message is redelivered and the journal answers for what was done.
                    LogExtendFailed(MessageId, ex.GetBaseException().Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>The command is answered: delete its message. Returns false when the delete failed (it will be redelivered; the journal re-sends its result).</summary>
    public async Task<bool> CompleteAsync(CancellationToken ct)
    {
        await StopKeepingAsync();
        try
        {
            await _queue.DeleteMessageAsync(MessageId, PopReceipt, ct);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Already gone (deleted after an earlier delivery), or the pop receipt went stale: either way not ours to delete now.
            return true;
        }
        catch (Exception ex) when (ex is RequestFailedException or HttpRequestException or IOException or TimeoutException or OperationCanceledException)
        {
            LogDeleteFailed(MessageId, ex.GetBaseException().Message);
            return false;
        }
    }

    /// <summary>The command was not finished (the relay is stopping): make the message visible again at once, best effort.</summary>
    public async Task AbandonAsync()
    {
        await StopKeepingAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            await _queue.UpdateMessageAsync(MessageId, PopReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: timeout.Token);
        }
        catch (Exception ex) when (ex is RequestFailedException or HttpRequestException or IOException or TimeoutException or OperationCanceledException)
        {
            // It comes back by itself when its visibility timeout runs out.
        }
    }

    async Task StopKeepingAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
            await _keeper;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopKeepingAsync();
        _stop.Dispose();
    }
}
