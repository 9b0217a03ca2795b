using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Relay;

/// <summary>How the control plane consumes the relay-events queue. Values: <c>RelayEvents__MaxPollInterval</c>, …</summary>
public sealed class RelayEventsOptions
{
    public const string Section = "RelayEvents";

    /// <summary>
    /// Whether this process consumes the relay-events queue. Off for an instance that only serves the API (and for
    /// tests that read the queue themselves, as the control plane would). Default: true.
    /// </summary>
    public bool Consume { get; set; } = true;

    /// <summary>Messages taken per receive (the queue service's maximum is 32).</summary>
    public const int BatchSize = 32;

    /// <summary>
    /// The longest wait between two receives of an empty queue: after work the consumer receives again at once, and
    /// each empty receive doubles the wait up to this. Default: 1 second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:30", ErrorMessage = "Setting RelayEvents__MaxPollInterval must be between 00:00:00.01 and 00:00:30.")]
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a received message stays hidden from other consumers; one not deleted by then comes back. Default: 60 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "00:10:00", ErrorMessage = "Setting RelayEvents__VisibilityTimeout must be between 00:00:05 and 00:10:00.")]
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Deliveries of one message before it goes to the poison queue instead. Default: 5.</summary>
    [Range(1, 100, ErrorMessage = "Setting RelayEvents__MaxDequeueCount must be between 1 and 100.")]
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>Messages of one batch applied at once (each in its own transaction). Default: 8.</summary>
    [Range(1, 32, ErrorMessage = "Setting RelayEvents__Concurrency must be between 1 and 32.")]
    public int Concurrency { get; set; } = 8;
}
