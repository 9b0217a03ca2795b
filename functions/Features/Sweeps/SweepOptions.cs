using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Sweeps;

/// <summary>The timer sweeps: how often they run and when they act. Values: <c>Sweeps__HealthSeconds</c>, …</summary>
public sealed class SweepOptions : IValidatableObject
{
    public const string Section = "Sweeps";

    /// <summary>How often, in seconds, the health sweep looks at every node's heartbeats. A divisor of 60. Default: 10.</summary>
    [Range(1, 60, ErrorMessage = "Setting Sweeps__HealthSeconds must be between 1 and 60.")]
    public int HealthSeconds { get; set; } = 10;

    /// <summary>How often, in seconds, the reconcile sweep compares replicas with the relays' inventories. A divisor of 60. Default: 15.</summary>
    [Range(1, 60, ErrorMessage = "Setting Sweeps__ReconcileSeconds must be between 1 and 60.")]
    public int ReconcileSeconds { get; set; } = 15;

    /// <summary>How long a labelled container that no replica owns may stay before it is removed. Default: 2 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ErrorMessage = "Setting Sweeps__OrphanGrace must be between 00:00:00 and 1.00:00:00.")]
    public TimeSpan OrphanGrace { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a healthy replica's container may be missing from its node's inventory before it is recreated. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "Setting Sweeps__MissingGrace must be between 00:00:00 and 01:00:00.")]
    public TimeSpan MissingGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Crashes within <see cref="CrashLoopWindow"/> that mark a replica crash-looping (no more restarts). Default: 5.</summary>
    [Range(2, 100, ErrorMessage = "Setting Sweeps__CrashLoopCrashes must be between 2 and 100.")]
    public int CrashLoopCrashes { get; set; } = 5;

    /// <summary>Default: 10 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Setting Sweeps__CrashLoopWindow must be between 00:00:10 and 1.00:00:00.")]
    public TimeSpan CrashLoopWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Delay before restarting a crashed replica; doubled for each crash in the window, up to <see cref="RestartMaxDelay"/>. Default: 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "Setting Sweeps__RestartFirstDelay must be between 00:00:00 and 00:10:00.")]
    public TimeSpan RestartFirstDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Default: 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "Setting Sweeps__RestartMaxDelay must be between 00:00:00 and 01:00:00.")]
    public TimeSpan RestartMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>An app short of replicas gets a heal operation only this long after its last operation ended. Default: 1 minute.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "Setting Sweeps__HealRetryDelay must be between 00:00:00 and 01:00:00.")]
    public TimeSpan HealRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    public static string Cron(int seconds) => seconds == 60 ? "* * * * *" : $"*/{seconds} * * * * *";

    /// <summary>The delay before restarting after crash number <paramref name="crashes"/> of the window.</summary>
    public TimeSpan RestartDelay(int crashes) =>
        TimeSpan.FromTicks(Math.Min(RestartFirstDelay.Ticks * (1L << Math.Clamp(crashes - 1, 0, 20)), RestartMaxDelay.Ticks));

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, seconds) in new[] { (nameof(HealthSeconds), HealthSeconds), (nameof(ReconcileSeconds), ReconcileSeconds) })
        {
            if (seconds > 0 && 60 % seconds != 0)
            {
                yield return new ValidationResult($"Setting Sweeps__{name} must divide a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60).", [name]);
            }
        }
    }
}
