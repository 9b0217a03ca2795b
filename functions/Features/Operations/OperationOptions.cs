using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Operations;

/// <summary>How operations retry and when they give up. Values: <c>Operations__MaxDuration</c>, …</summary>
public sealed class OperationOptions : IValidatableObject
{
    public const string Section = "Operations";

    /// <summary>The longest any operation may run before it fails (and rolls back). Default: 30 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:30", "1.00:00:00", ErrorMessage = "Setting Operations__MaxDuration must be between 00:00:30 and 1.00:00:00.")]
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Attempts of one command (a pull on a node, a replica's start, stop or removal) before its step fails. Default: 3.</summary>
    [Range(1, 20, ErrorMessage = "Setting Operations__MaxAttempts must be between 1 and 20.")]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Delay before the first retry; each next one is <see cref="BackoffFactor"/> times longer, up to <see cref="MaxRetryDelay"/>. Default: 2 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Setting Operations__FirstRetryDelay must be between 00:00:00.100 and 00:10:00.")]
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    [Range(1.0, 10.0, ErrorMessage = "Setting Operations__BackoffFactor must be between 1 and 10.")]
    public double BackoffFactor { get; set; } = 2;

    /// <summary>Default: 1 minute.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Setting Operations__MaxRetryDelay must be between 00:00:00.100 and 01:00:00.")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a pull may take on a node before it counts as failed. Default: 10 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "02:00:00", ErrorMessage = "Setting Operations__PullTimeout must be between 00:00:05 and 02:00:00.")]
    public TimeSpan PullTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long starting, restarting, stopping or removing a replica may take (beyond its stop grace). Default: 2 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00", ErrorMessage = "Setting Operations__CommandTimeout must be between 00:00:05 and 01:00:00.")]
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Grace a retired replica gets between SIGTERM and SIGKILL. Default: 10 seconds.</summary>
    [Range(0, 600, ErrorMessage = "Setting Operations__StopGraceSeconds must be between 0 and 600.")]
    public int StopGraceSeconds { get; set; } = 10;

    /// <summary>
    /// How often, in seconds, the recovery job advances operations that nothing advanced in time (their process died,
    /// a wake-up was lost). A divisor of 60. Default: 15.
    /// </summary>
    [Range(1, 60, ErrorMessage = "Setting Operations__RecoverySeconds must be between 1 and 60.")]
    public int RecoverySeconds { get; set; } = 15;

    public string RecoveryCron() => RecoverySeconds == 60 ? "* * * * *" : $"*/{RecoverySeconds} * * * * *";

    /// <summary>The delay before retry number <paramref name="attempt"/> (1 = the first retry).</summary>
    public TimeSpan RetryDelay(int attempt)
    {
        var delay = FirstRetryDelay.TotalMilliseconds * Math.Pow(BackoffFactor, Math.Max(0, attempt - 1));
        return TimeSpan.FromMilliseconds(Math.Min(delay, MaxRetryDelay.TotalMilliseconds));
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RecoverySeconds > 0 && 60 % RecoverySeconds != 0)
        {
            yield return new ValidationResult("Setting Operations__RecoverySeconds must divide a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60).", [nameof(RecoverySeconds)]);
        }
    }
}
