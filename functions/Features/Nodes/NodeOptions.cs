using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Nodes;

/// <summary>Nodes and their relays. Values: <c>Nodes__JoinTokenLifetime</c>, …</summary>
public sealed class NodeOptions : IValidatableObject
{
    public const string Section = "Nodes";

    /// <summary>How long a join token may be used. Default: 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "7.00:00:00", ErrorMessage = "Setting Nodes__JoinTokenLifetime must be between 00:01:00 and 7.00:00:00.")]
    public TimeSpan JoinTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Lifetime of a relay's queue credentials (SAS); the relay renews them before they expire. Default: 7 days.</summary>
    [Range(typeof(TimeSpan), "00:10:00", "90.00:00:00", ErrorMessage = "Setting Nodes__CredentialLifetime must be between 00:10:00 and 90.00:00:00.")]
    public TimeSpan CredentialLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often relays send heartbeats. Default: 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Setting Nodes__HeartbeatInterval must be between 00:00:01 and 00:10:00.")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The key file for signing relay commands (created 0600 on first start). Default: <c>.a67/keys/command-signing-keys.json</c>.</summary>
    [Required(ErrorMessage = "Setting Nodes__CommandSigningKeyFile is required.")]
    public string CommandSigningKeyFile { get; set; } = Path.Combine(".a67", "keys", "command-signing-keys.json");

    /// <summary>A command-signing key older than this is replaced (checked at start and every hour). Default: 30 days.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00", ErrorMessage = "Setting Nodes__CommandSigningKeyLifetime must be between 01:00:00 and 365.00:00:00.")]
    public TimeSpan CommandSigningKeyLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a command may wait in a node's queue: past it the queue drops it, the relay would refuse it, and the
    /// command is marked Expired. Default: 10 minutes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Setting Nodes__CommandLifetime must be between 00:00:10 and 1.00:00:00.")]
    public TimeSpan CommandLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often each heartbeating node is pinged through its command queue; a node whose pings stay unanswered for
    /// two intervals is Degraded. A whole number of seconds that divides a minute, or of minutes that divides an hour
    /// (it becomes a cron schedule). Default: 30 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Setting Nodes__PingInterval must be between 00:00:01 and 01:00:00.")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a node may stay silent (no heartbeat) before the health sweep declares it Lost and reschedules its
    /// replicas; a node's own <c>lostAfterSeconds</c> (PATCH /api/nodes/{id}) overrides it. Default: 2 minutes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Setting Nodes__LostAfter must be between 00:00:10 and 1.00:00:00.")]
    public TimeSpan LostAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The ping schedule as a Hangfire cron expression (seconds field first below a minute).</summary>
    public string PingCron() => PingInterval.TotalMinutes switch
    {
        < 1 => $"*/{(int)PingInterval.TotalSeconds} * * * * *",
        1 => "* * * * *",
        60 => "0 * * * *",
        _ => $"*/{(int)PingInterval.TotalMinutes} * * * *",
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var ticks = PingInterval.Ticks;
        var fits = ticks % TimeSpan.TicksPerMinute == 0
            ? 60 % (ticks / TimeSpan.TicksPerMinute) == 0
            : ticks % TimeSpan.TicksPerSecond == 0 && 60 % (ticks / TimeSpan.TicksPerSecond) == 0;
        if (!fits)
        {
            yield return new ValidationResult(
                "Setting Nodes__PingInterval must be a whole number of seconds that divides a minute (e.g. 00:00:15, 00:00:30) or of minutes that divides an hour (00:05:00).",
                [nameof(PingInterval)]);
        }
    }
}
