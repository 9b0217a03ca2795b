using System.ComponentModel.DataAnnotations;

namespace Automator67.NodeRelay;

/// <summary>Relay settings. Values: <c>Relay__DockerEndpoint</c>, …</summary>
public sealed class RelayOptions : IValidatableObject
{
    public const string Section = "Relay";

    /// <summary>The Docker Engine API: a unix socket or tcp address. Default: <c>unix:///var/run/docker.sock</c>.</summary>
    [Required(ErrorMessage = "Setting Relay__DockerEndpoint is required.")]
    public string DockerEndpoint { get; set; } = "unix:///var/run/docker.sock";

    /// <summary>Where the relay keeps its identity, key and credentials (mode 0700/0600). Default: <c>/var/lib/automator67-relay</c>.</summary>
    [Required(ErrorMessage = "Setting Relay__StateDirectory is required.")]
    public string StateDirectory { get; set; } = "/var/lib/automator67-relay";

    /// <summary>Time allowed for one Docker API call that is not a stream. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Setting Relay__DockerTimeout must be between 00:00:01 and 00:10:00.")]
    public TimeSpan DockerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Uri.TryCreate(DockerEndpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("unix" or "tcp" or "http" or "https"))
        {
            yield return new ValidationResult(
                $"Setting Relay__DockerEndpoint must be a unix:// or tcp:// address such as unix:///var/run/docker.sock, not '{DockerEndpoint}'.",
                [nameof(DockerEndpoint)]);
        }
    }
}
