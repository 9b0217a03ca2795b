using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Automator67.Functions.Hosting;

/// <summary>Where the HTTP functions listen. Values: <c>ControlPlane__Port</c>, <c>ControlPlane__BindAddress</c>.</summary>
public sealed class ControlPlaneOptions : IValidatableObject
{
    public const string Section = "ControlPlane";

    /// <summary>HTTP port; the Azure Functions local port, also read from <c>Host.LocalHttpPort</c>. Default: 7071.</summary>
    [Range(1, 65535, ErrorMessage = "Setting ControlPlane__Port must be a TCP port between 1 and 65535.")]
    public int Port { get; set; } = 7071;

    /// <summary>Address to bind; loopback until auth exists, 0.0.0.0 inside a container. Default: 127.0.0.1.</summary>
    [Required(ErrorMessage = "Setting ControlPlane__BindAddress is required.")]
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>How long SIGTERM waits for requests and jobs to finish. Default: 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Setting ControlPlane__ShutdownTimeout must be between 00:00:01 and 00:10:00.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string Url => $"http://{(IPAddress.TryParse(BindAddress, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{BindAddress}]" : BindAddress)}:{Port}";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            yield return new ValidationResult(
                $"Setting ControlPlane__BindAddress must be an IP address such as 127.0.0.1 or 0.0.0.0, not '{BindAddress}'.",
                [nameof(BindAddress)]);
        }
    }
}
