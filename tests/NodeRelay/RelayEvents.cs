using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Azure.Storage.Queues;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// The events queue as the control plane reads it: every message is verified against the public key of the node its
/// kid names (an event that does not verify fails the test), then kept per node. Events of nodes the test does not
/// know (earlier tests of the class) are dropped.
/// </summary>
public sealed class RelayEvents(ControlPlaneFixture cp)
{
    readonly QueueClient _queue = new QueueServiceClient(TestEnvironment.Storage).GetQueueClient(QueueNames.RelayEvents(cp.Queues.Prefix));
    readonly Dictionary<Guid, ECDsa> _keys = [];
    readonly List<(Guid Node, EventEnvelope Event)> _seen = [];

    public void Trust(Guid nodeId, ECDsa publicKey)
    {
        lock (_keys)
        {
            _keys[nodeId] = publicKey;
        }
    }

    public IReadOnlyList<EventEnvelope> Seen(Guid nodeId)
    {
        lock (_seen)
        {
            return [.. _seen.Where(s => s.Node == nodeId).Select(s => s.Event)];
        }
    }

    public async Task<EventEnvelope> WaitAsync(Guid nodeId, Func<EventEnvelope, bool> match, CancellationToken ct, Func<string>? context = null)
    {
        try
        {
            while (true)
            {
                lock (_seen)
                {
                    var found = _seen.FirstOrDefault(s => s.Node == nodeId && match(s.Event));
                    if (found.Event is not null)
                    {
                        return found.Event;
                    }
                }

                if (!await ReceiveAsync(ct))
                {
                    await Task.Delay(50, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested && context is not null)
        {
            throw new TimeoutException($"no matching event from node {nodeId}; relay output:\n{context()}");
        }
    }

    async Task<bool> ReceiveAsync(CancellationToken ct)
    {
        if (!(await _queue.ExistsAsync(ct)).Value)
        {
            return false;
        }

        var messages = (await _queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30), ct)).Value;
        foreach (var message in messages)
        {
            var text = message.Body.ToString();
            var kid = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(text.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;
            ECDsa? key;
            lock (_keys)
            {
                key = _keys.GetValueOrDefault(Guid.Parse(kid));
            }

            if (key is not null)
            {
                var (payload, _, problem) = Jws.Verify(text, MessageTypes.Event, k => k == kid ? key : null);
                Assert.True(problem is null, $"an event of node {kid} does not verify: {problem}");
                var envelope = JsonSerializer.Deserialize(payload, RelayJsonContext.Default.EventEnvelope)!;
                Assert.Equal(Guid.Parse(kid), envelope.NodeId);
                lock (_seen)
                {
                    _seen.Add((envelope.NodeId, envelope));
                }
            }

            await _queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, ct);
        }

        return messages.Length > 0;
    }
}
