using System.Text.Json;
using Automator67.Contracts.Relay;
using Azure;
using Microsoft.Extensions.Logging;

namespace Automator67.NodeRelay.Run;

/// <summary>
/// Sends signed events to the events queue: a command's result, a heartbeat. A result is retried with back-off until
/// it is sent or the relay stops, because its command message is deleted only after it.
/// </summary>
public sealed partial class EventSender(RelayIdentity identity, RelayQueues queues, CredentialRenewer renewer, TimeProvider time, ILogger<EventSender> logger)
{
    /// <summary>Signs an event; null when it would not fit one queue message.</summary>
    public string? TrySign(string kind, JsonElement body, DateTimeOffset? sentAt = null)
    {
        var envelope = new EventEnvelope(identity.NodeId, Guid.NewGuid(), sentAt ?? time.GetUtcNow(), kind, body);
        var signed = identity.SignEvent(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.EventEnvelope));
        return signed.Length <= Jws.MaxLength ? signed : null;
    }

    /// <summary>Sends a command's result, retrying until it is in the queue; throws only when <paramref name="ct"/> is cancelled.</summary>
    public async Task SendResultAsync(CommandResult result, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToElement(result, RelayJsonContext.Default.CommandResult);
        var signed = TrySign(EventKinds.Result, body)
            // An output too large for a message (every command bounds its own, so this is a bug) still reports the outcome.
            ?? TrySign(EventKinds.Result, JsonSerializer.SerializeToElement(
                result with { Output = null, Error = $"{result.Error} (the output did not fit one queue message and was left out)".TrimStart() },
                RelayJsonContext.Default.CommandResult))!;
        await SendAsync(signed, $"result of {result.CommandId}", ct);
    }

    /// <summary>Sends one signed message, retrying with back-off and jitter while the queue service is unreachable.</summary>
    public async Task SendAsync(string message, string what, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await queues.Events.SendMessageAsync(message, ct);
                return;
            }
            catch (Exception ex) when (ex is RequestFailedException or HttpRequestException or IOException or TimeoutException
                                       || (ex is OperationCanceledException && !ct.IsCancellationRequested))
            {
                if (RelayQueues.IsCredentialRefusal(ex))
                {
                    renewer.Request("the events queue refused the credentials");
                }

                var delay = Backoff.Delay(attempt, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30));
                LogSendFailed(what, attempt, delay, ex.GetBaseException().Message);
                await Task.Delay(delay, time, ct);
            }
        }
    }
}
