using Azure.Storage.Queues;

namespace Automator67.Tests.Infrastructure;

/// <summary>A queue-name prefix of its own for one test class on the real Azurite; every queue under it is deleted afterwards.</summary>
public sealed class QueueFixture : IAsyncLifetime
{
    static int s_sequence;

    public string Prefix { get; } = $"t{TestEnvironment.RunId}{Interlocked.Increment(ref s_sequence)}";

    public QueueServiceClient Service { get; } = new(TestEnvironment.Storage);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await foreach (var queue in Service.GetQueuesAsync(prefix: Prefix))
        {
            await Service.DeleteQueueAsync(queue.Name);
        }
    }
}
