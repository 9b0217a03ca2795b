using System.ComponentModel.DataAnnotations;

namespace Automator67.Orchestrations.Runtime;

/// <summary>How the durable runtime (Hangfire on PostgreSQL) runs. Values: <c>Orchestrations__WorkerCount</c>, …</summary>
public sealed class OrchestrationOptions
{
    public const string Section = "Orchestrations";

    /// <summary>Hangfire's schema in the control-plane database. Default: <c>hangfire</c>.</summary>
    [Required, RegularExpression("^[a-z_][a-z0-9_]{0,62}$", ErrorMessage = "Setting Orchestrations__SchemaName must be a lower-case PostgreSQL identifier.")]
    public string SchemaName { get; set; } = "hangfire";

    /// <summary>Jobs run at once by this process. Default: 10.</summary>
    [Range(1, 200, ErrorMessage = "Setting Orchestrations__WorkerCount must be between 1 and 200.")]
    public int WorkerCount { get; set; } = 10;

    /// <summary>
    /// How often delayed jobs (retry delays, timeouts) and recurring sweeps are checked. Hangfire's 15 s default
    /// would turn a 2 s retry delay into 15 s. Default: 1 second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00", ErrorMessage = "Setting Orchestrations__SchedulePollingInterval must be between 00:00:00.1 and 00:01:00.")]
    public TimeSpan SchedulePollingInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a fetched job stays invisible to other servers while its server lives; the sliding timeout keeps
    /// extending it, so a job of a crashed server is retried after this long instead of Hangfire's 30 minutes.
    /// Default: 5 minutes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:30", "01:00:00", ErrorMessage = "Setting Orchestrations__InvisibilityTimeout must be between 00:00:30 and 01:00:00.")]
    public TimeSpan InvisibilityTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Fallback poll of the job queue; LISTEN/NOTIFY wakes workers at once. Default: 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00", ErrorMessage = "Setting Orchestrations__QueuePollInterval must be between 00:00:00.1 and 00:01:00.")]
    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a distributed lock of a process that died blocks others (a recurring job's update, a job's exclusive
    /// run). Hangfire's 10 minutes would keep a crashed instance's sweep away that long. Default: 1 minute.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:30:00", ErrorMessage = "Setting Orchestrations__DistributedLockTimeout must be between 00:00:10 and 00:30:00.")]
    public TimeSpan DistributedLockTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a stopping server waits for running jobs before it abandons them to be retried. Default: 15 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00", ErrorMessage = "Setting Orchestrations__ShutdownTimeout must be between 00:00:01 and 00:05:00.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(15);
}
