using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Alerts;

/// <summary>How alert rules are evaluated and webhooks delivered. Values: <c>Alerts__EvaluationSeconds</c>, …</summary>
public sealed class AlertOptions : IValidatableObject
{
    public const string Section = "Alerts";

    /// <summary>How often, in seconds, the evaluation job reads new events and the container stats. A divisor of 60. Default: 10.</summary>
    [Range(1, 60, ErrorMessage = "Setting Alerts__EvaluationSeconds must be between 1 and 60.")]
    public int EvaluationSeconds { get; set; } = 10;

    /// <summary>How long one webhook attempt may take, connection included. Default: 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00", ErrorMessage = "Setting Alerts__DeliveryTimeout must be between 00:00:01 and 00:01:00.")]
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts of one delivery (the first included) before it counts as failed. Default: 8.</summary>
    [Range(1, 20, ErrorMessage = "Setting Alerts__MaxAttempts must be between 1 and 20.")]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>Delay before the first retry; each next one is <see cref="BackoffFactor"/> times longer, up to <see cref="MaxRetryDelay"/>. Default: 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Setting Alerts__FirstRetryDelay must be between 00:00:00.100 and 01:00:00.")]
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Default: 2.</summary>
    [Range(1.0, 10.0, ErrorMessage = "Setting Alerts__BackoffFactor must be between 1 and 10.")]
    public double BackoffFactor { get; set; } = 2;

    /// <summary>Longest delay between two attempts. Default: 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00", ErrorMessage = "Setting Alerts__MaxRetryDelay must be between 00:00:00.100 and 1.00:00:00.")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Whether webhooks may point at loopback and private addresses (127.0.0.0/8, ::1, 10/8, 172.16/12, 192.168/16,
    /// fc00::/7, 100.64/10). Self-hosted receivers usually live there, so the default allows them; set false where
    /// accounts are not trusted with the control plane's network. Link-local (cloud metadata), unspecified and
    /// multicast addresses and the control plane itself are refused either way. Default: true.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; } = true;

    /// <summary>
    /// The control plane's public address as others reach it (e.g. <c>https://a67.example.com</c>), when it sits
    /// behind a proxy: webhooks may not point there. Default: none.
    /// </summary>
    public string PublicUrl { get; set; } = "";

    /// <summary>Container stats older than this do not count as the present (a container that stopped reporting is not "above"). Default: 1 minute.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00", ErrorMessage = "Setting Alerts__StatsMaxAge must be between 00:00:05 and 01:00:00.")]
    public TimeSpan StatsMaxAge { get; set; } = TimeSpan.FromMinutes(1);

    public string EvaluationCron() => EvaluationSeconds == 60 ? "* * * * *" : $"*/{EvaluationSeconds} * * * * *";

    /// <summary>The delay before retry number <paramref name="retry"/> (1 = the first retry).</summary>
    public TimeSpan RetryDelay(int retry)
    {
        var delay = FirstRetryDelay.TotalMilliseconds * Math.Pow(BackoffFactor, Math.Max(0, retry - 1));
        return TimeSpan.FromMilliseconds(Math.Min(delay, MaxRetryDelay.TotalMilliseconds));
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (EvaluationSeconds > 0 && 60 % EvaluationSeconds != 0)
        {
            yield return new ValidationResult("Setting Alerts__EvaluationSeconds must divide a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60).", [nameof(EvaluationSeconds)]);
        }

        if (PublicUrl.Length > 0 && (!Uri.TryCreate(PublicUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            yield return new ValidationResult($"Setting Alerts__PublicUrl must be an absolute http(s) URL such as https://a67.example.com, not '{PublicUrl}'.", [nameof(PublicUrl)]);
        }
    }
}
