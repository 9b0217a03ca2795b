using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// The recurring evaluation (every <see cref="AlertOptions.EvaluationSeconds"/>): one tick of
/// <see cref="AlertEvaluator"/>, then a job per delivery it made, and again for deliveries whose job was lost.
/// Re-entrant: a tick with nothing new changes nothing; two at once cannot both run (the evaluator's row lock), and
/// a failed tick is simply the next tick's work.
/// </summary>
public sealed partial class AlertJobs(AlertEvaluator evaluator, DeliveryStore deliveries, IBackgroundJobClient jobs, IOptions<AlertOptions> options,
    TimeProvider time, ILogger<AlertJobs> logger)
{
    public const string EvaluationJobId = "alerts-evaluation";

    [DisableConcurrentExecution(60)]
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public async Task EvaluateAsync(CancellationToken ct)
    {
        var made = await evaluator.EvaluateAsync(ct);
        foreach (var id in made ?? [])
        {
            jobs.Enqueue<WebhookDeliveryJob>(job => job.DeliverAsync(id, CancellationToken.None));
        }

        // A delivery whose job never ran (the process died between commit and enqueue, or Hangfire lost it) is
        // overdue well past its time; it is claimed before it is sent, so enqueueing it twice sends it once.
        var grace = TimeSpan.FromSeconds(Math.Max(30, 3 * options.Value.EvaluationSeconds));
        var overdue = await deliveries.OverdueAsync(time.GetUtcNow(), grace, ct);
        foreach (var id in overdue)
        {
            jobs.Enqueue<WebhookDeliveryJob>(job => job.DeliverAsync(id, CancellationToken.None));
        }

        if (overdue.Count > 0)
        {
            LogRequeued(overdue.Count);
        }
    }

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Enqueued {Count} overdue webhook delivery(ies) again")]
    partial void LogRequeued(int count);
}
