using Azure.Core;
using Azure.Storage.Queues;
using Automator67.Contracts.Nodes;

namespace Automator67.NodeRelay.Run;

/// <summary>
/// The relay's two queues, reached with the SAS URLs from enrolment or the last renewal: its own command queue
/// (receive, update, delete) and the shared events queue (add only). A renewal swaps both clients; a call already
/// under way finishes with the credentials it started with, which stay valid until they expire.
/// </summary>
public sealed class RelayQueues(RelayIdentity identity)
{
    // Few, quick retries inside the SDK: the relay's loops retry on their own, with back-off and jitter, and must
    // notice an outage rather than hang in one call.
    static readonly QueueClientOptions Options = CreateOptions();

    volatile Clients _clients = new(identity.State.Queues);

    public QueueClient Commands => _clients.Commands;

    public QueueClient Events => _clients.Events;

    /// <summary>Uses renewed credentials from now on.</summary>
    public void Use(NodeQueueCredentials credentials) => _clients = new Clients(credentials);

    /// <summary>The queue service refused the credentials (expired or revoked SAS), as opposed to an outage.</summary>
    public static bool IsCredentialRefusal(Exception ex) => ex is Azure.RequestFailedException { Status: 401 or 403 };

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

    sealed class Clients(NodeQueueCredentials credentials)
    {
        public QueueClient Commands { get; } = new(credentials.CommandQueue, Options);

        public QueueClient Events { get; } = new(credentials.EventsQueue, Options);
    }
}
