using System.Net.Http.Headers;
using System.Text;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// One attempt of one delivery (a Hangfire job; its argument is the delivery id). It claims the delivery, POSTs the
/// stored body signed with the webhook's current secret, records the attempt, and on anything but a 2xx schedules
/// the next attempt after the back-off — until <see cref="AlertOptions.MaxAttempts"/>. Re-entrant: a second run finds
/// the delivery claimed, done or not due, and does nothing.
/// </summary>
public sealed partial class WebhookDeliveryJob(
    DeliveryStore deliveries,
    IHttpClientFactory httpClients,
    IBackgroundJobClient jobs,
    IOptions<AlertOptions> options,
    TimeProvider time,
    ILogger<WebhookDeliveryJob> logger)
{
    public const string HttpClientName = "alert-webhooks";
    const int MaxErrorLength = 500;

    // Retries are ours (recorded, with the configured back-off); Hangfire's would repeat an attempt unrecorded.
    [AutomaticRetry(Attempts = 0)]
    public async Task DeliverAsync(Guid deliveryId, CancellationToken ct)
    {
        var settings = options.Value;
        var startedAt = time.GetUtcNow();
        if (await deliveries.ClaimAsync(deliveryId, startedAt, settings.DeliveryTimeout, ct) is not { } delivery)
        {
            return;
        }

        var timestamp = startedAt.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
        {
            Content = new StringContent(delivery.Body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(delivery.Secret, timestamp, delivery.Body));
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.DeliveryHeader, delivery.Id.ToString());
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("Automator67-Webhook", "1"));

        int? statusCode = null;
        string? error = null;
        var clock = time.GetTimestamp();
        try
        {
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            statusCode = (int)response.StatusCode;
            if (statusCode is >= 300 and < 400)
            {
                error = "redirects are not followed; point the webhook at the final URL";
            }
        }
        catch (HttpRequestException ex)
        {
            error = ex.GetBaseException() is WebhookRefusedException refused ? $"refused: {refused.Message}" : ex.GetBaseException().Message;
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            error = $"no answer within {settings.DeliveryTimeout.TotalSeconds:0.#} s";
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down: the attempt did not happen as far as anyone can tell; give it back for the next process.
            await deliveries.ReleaseAsync(delivery, CancellationToken.None);
            throw;
        }

        var duration = time.GetElapsedTime(clock);
        var now = time.GetUtcNow();
        var delivered = statusCode is >= 200 and < 300;
        var status = delivered ? "delivered" : delivery.Attempt >= settings.MaxAttempts ? "failed" : "pending";
        DateTimeOffset? retryAt = status == "pending" ? now + settings.RetryDelay(delivery.Attempt) : null;
        error = error is { Length: > MaxErrorLength } ? error[..MaxErrorLength] : error;
        await deliveries.CompleteAttemptAsync(delivery, startedAt, duration, statusCode, error, status, retryAt, now, CancellationToken.None);

        if (retryAt is { } at)
        {
            LogRetrying(delivery.Id, delivery.WebhookId, delivery.Attempt, statusCode, error, at - now);
            jobs.Schedule<WebhookDeliveryJob>(job => job.DeliverAsync(delivery.Id, CancellationToken.None), at);
        }
        else if (delivered)
        {
            LogDelivered(delivery.Id, delivery.WebhookId, delivery.Attempt, statusCode!.Value);
        }
        else
        {
            LogGaveUp(delivery.Id, delivery.WebhookId, delivery.Attempt, statusCode, error);
        }
    }
}
