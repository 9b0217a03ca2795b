using Azure.Core;
using Azure.Storage.Queues;

namespace Automator67.NodeRelay.Run;

/// <summary>
/// The relay's two queues, reached with the SAS URLs from enrolment: its own command queue (receive, update, delete)
/// and the shared events queue (add only). One client each for the life of the process.
/// </summary>
public sealed class RelayQueues(RelayIdentity identity)
{
    // Few, quick retries inside the SDK: the relay's loops retry on their own, with back-off and jitter, and must
    // notice an outage rather than hang in one call.
    static readonly QueueClientOptions Options = CreateOptions();

    public QueueClient Commands { get; } = new(identity.State.Queues.CommandQueue, Options);

    public QueueClient Events { get; } = new(identity.State.Queues.EventsQueue, Options);

    static QueueClientOptions CreateOptions()
    {
        var options = new QueueClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        return options;
    }
}
