using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Metrics;

/// <summary>Retention and rollup of container metrics, and the metrics API's limits. Values: <c>Metrics__RawRetention</c>, …</summary>
public sealed class MetricsOptions : IValidatableObject
{
    public const string Section = "Metrics";

    /// <summary>How long raw points (one per container per heartbeat) are kept. Default: 24 hours.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "7.00:00:00", ErrorMessage = "Setting Metrics__RawRetention must be between 01:00:00 and 7.00:00:00.")]
    public TimeSpan RawRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long minute buckets are kept. Default: 7 days.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "90.00:00:00", ErrorMessage = "Setting Metrics__MinuteRetention must be between 01:00:00 and 90.00:00:00.")]
    public TimeSpan MinuteRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long hour buckets are kept. Default: 90 days.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00", ErrorMessage = "Setting Metrics__HourRetention must be between 1.00:00:00 and 3650.00:00:00.")]
    public TimeSpan HourRetention { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How often, in minutes, the retention job rolls up and prunes; a divisor of 60 or a multiple of 60 up to 1440. Default: 60.</summary>
    [Range(1, 1440, ErrorMessage = "Setting Metrics__RollupMinutes must be between 1 and 1440.")]
    public int RollupMinutes { get; set; } = 60;

    /// <summary>
    /// Buckets that ended this long before the last rolled-up one are rolled up again, so heartbeats applied late (a
    /// backlog after an outage) still count. Default: 1 hour.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "12:00:00", ErrorMessage = "Setting Metrics__RollupLateness must be between 00:00:00 and 12:00:00.")]
    public TimeSpan RollupLateness { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Most points one metrics request may return. Default: 10000.</summary>
    [Range(10, 1_000_000, ErrorMessage = "Setting Metrics__MaxPoints must be between 10 and 1000000.")]
    public int MaxPoints { get; set; } = 10_000;

    /// <summary>How long <c>/metrics</c> reuses what it read from the database and the queues. Default: 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00", ErrorMessage = "Setting Metrics__ScrapeCacheTime must be between 00:00:00 and 00:05:00.")]
    public TimeSpan ScrapeCacheTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Node command queues <c>/metrics</c> probes per scrape (the next ones at the next scrape). Default: 50.</summary>
    [Range(0, 1000, ErrorMessage = "Setting Metrics__MaxQueuesPerScrape must be between 0 and 1000.")]
    public int MaxQueuesPerScrape { get; set; } = 50;

    public string RollupCron() => RollupMinutes switch
    {
        < 60 => $"*/{RollupMinutes} * * * *",
        60 => "0 * * * *",
        1440 => "0 0 * * *",
        _ => $"0 */{RollupMinutes / 60} * * *",
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RollupMinutes < 60 ? 60 % RollupMinutes != 0 : RollupMinutes % 60 != 0 || 24 % (RollupMinutes / 60) != 0)
        {
            yield return new ValidationResult("Setting Metrics__RollupMinutes must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) or be whole hours that divide a day (120, 180, 240, 360, 480, 720, 1440).", [nameof(RollupMinutes)]);
        }

        if (RollupLateness + TimeSpan.FromMinutes(RollupMinutes) + TimeSpan.FromMinutes(5) > RawRetention)
        {
            yield return new ValidationResult("Setting Metrics__RawRetention must exceed Metrics__RollupLateness plus the rollup interval (Metrics__RollupMinutes) by 5 minutes: raw points are rolled up before they go.", [nameof(RawRetention)]);
        }

        if (MinuteRetention < RawRetention || HourRetention < MinuteRetention)
        {
            yield return new ValidationResult("Settings Metrics__RawRetention, Metrics__MinuteRetention and Metrics__HourRetention must not decrease in that order.", [nameof(MinuteRetention)]);
        }
    }
}
