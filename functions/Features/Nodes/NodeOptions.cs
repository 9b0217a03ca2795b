using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Nodes;

/// <summary>Nodes and their relays. Values: <c>Nodes__JoinTokenLifetime</c>, …</summary>
public sealed class NodeOptions
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

    /// <summary>A command-signing key older than this is replaced at start. Default: 30 days.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00", ErrorMessage = "Setting Nodes__CommandSigningKeyLifetime must be between 01:00:00 and 365.00:00:00.")]
    public TimeSpan CommandSigningKeyLifetime { get; set; } = TimeSpan.FromDays(30);
}
