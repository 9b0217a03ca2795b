using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Automator67.Tests.Features.Alerts;

/// <summary>One POST as the receiver got it, and what it answered.</summary>
public sealed record ReceivedWebhook(string Body, string? Signature, string? Timestamp, string? DeliveryId, int Answered);

/// <summary>
/// A webhook receiver in the test process on 127.0.0.1 and a free port: it records every POST and answers with the
/// next status of <see cref="Answers"/> (200 once they run out).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly Channel<ReceivedWebhook> _received = Channel.CreateUnbounded<ReceivedWebhook>();

    WebhookReceiver(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    public ConcurrentQueue<int> Answers { get; } = new();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var receiver = new WebhookReceiver(builder.Build());
        receiver._app.MapPost("/hook", (Delegate)receiver.ReceiveAsync);
        await receiver._app.StartAsync();
        receiver.Url = receiver._app.Urls.Single() + "/hook";
        return receiver;
    }

    async Task<IResult> ReceiveAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var status = Answers.TryDequeue(out var next) ? next : 200;
        var headers = http.Request.Headers;
        await _received.Writer.WriteAsync(new ReceivedWebhook(body, headers["X-Automator67-Signature"].FirstOrDefault(),
            headers["X-Automator67-Timestamp"].FirstOrDefault(), headers["X-Automator67-Delivery"].FirstOrDefault(), status));
        return Results.StatusCode(status);
    }

    /// <summary>The next POST, waiting for it until <paramref name="ct"/> ends.</summary>
    public ValueTask<ReceivedWebhook> NextAsync(CancellationToken ct) => _received.Reader.ReadAsync(ct);

    public bool TryNext(out ReceivedWebhook? received) => _received.Reader.TryRead(out received);

    /// <summary>The receiver's own check, as docs/alerts.md tells receivers to write it.</summary>
    public static bool SignatureHolds(ReceivedWebhook received, string secret, TimeSpan tolerance)
    {
        if (received.Signature is null || !long.TryParse(received.Timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp) > tolerance.TotalSeconds)
        {
            return false;
        }

        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        var expected = "sha256=" + Convert.ToHexStringLower(hmac.ComputeHash(Encoding.UTF8.GetBytes($"{received.Timestamp}.{received.Body}")));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(received.Signature));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
