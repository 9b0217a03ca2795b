using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Automator67.Bench;

/// <summary>
/// A relay with the Docker work taken out, for the engine's ceiling: a node enrolled through the API like any other
/// (a join token, then <c>POST /api/relay/enroll</c> with a key pair made here), which receives its commands from
/// its queue with the credentials enrolment gave it, verifies each against the control plane's command keys, and
/// answers it at once with a signed result of the shape the real relay sends (a container id for
/// <c>run-replica</c>, healthy for <c>probe</c>, …), touching no Engine. It heartbeats like a relay (no containers),
/// so placement sees it Ready, and polls its queue every 10-50 ms when idle (the real relay backs off to 2 s): what
/// is left of a step's cost is the control plane's, PostgreSQL's and the queue's, plus this stub's own (the bench's).
/// </summary>
public sealed class StubRelay : IAsyncDisposable
{
    const int BatchSize = 32;
    static readonly TimeSpan MaxIdle = TimeSpan.FromMilliseconds(50);

    readonly ECDsa _key;
    readonly EnrollResponse _node;
    readonly Dictionary<string, ECDsa> _commandKeys;
    readonly QueueClient _commands;
    readonly QueueClient _events;
    readonly HostFacts _facts;
    readonly CancellationTokenSource _stop = new();
    readonly List<Task> _loops = [];
    int _answered;
    int _failures;
    string? _lastFailure;

    StubRelay(ECDsa key, EnrollResponse node, HostFacts facts)
    {
        _key = key;
        _node = node;
        _facts = facts;
        _commandKeys = node.CommandSigningKeys.ToDictionary(k => k.Kid, k => ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(k.X), Y = Base64Url.DecodeFromChars(k.Y) },
        }), StringComparer.Ordinal);
        _commands = new QueueClient(node.Queues.CommandQueue);
        _events = new QueueClient(node.Queues.EventsQueue);
    }

    public Guid NodeId => _node.NodeId;

    /// <summary>Commands answered so far.</summary>
    public int Answered => Volatile.Read(ref _answered);

    /// <summary>Queue calls that failed (each retried), and the last failure.</summary>
    public (int Count, string? Last) Failures => (Volatile.Read(ref _failures), _lastFailure);

    /// <summary>Enrols a node for the owner and starts answering its commands (and heartbeating).</summary>
    public static async Task<StubRelay> StartAsync(BenchApi owner, string name, HostFacts facts, CancellationToken ct)
    {
        var joinToken = await owner.PostAsync("/api/nodes/join-tokens", new { name }, HttpStatusCode.Created, ct);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new EnrollRequest(joinToken.GetProperty("token").GetString(), Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()), facts);
        var node = (await owner.PostAsync("/api/relay/enroll", request, HttpStatusCode.Created, ct)).Deserialize<EnrollResponse>(JsonSerializerOptions.Web)!;
        var relay = new StubRelay(key, node, facts);
        relay._loops.Add(Task.Run(() => relay.HeartbeatAsync(relay._stop.Token), CancellationToken.None));
        relay._loops.Add(Task.Run(() => relay.AnswerAsync(relay._stop.Token), CancellationToken.None));
        return relay;
    }

    async Task HeartbeatAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, _node.HeartbeatSeconds)));
        do
        {
            var body = JsonSerializer.SerializeToElement(new HeartbeatBody(_facts, []) { HeartbeatId = Guid.NewGuid() }, RelayJsonContext.Default.HeartbeatBody);
            try
            {
                await SendAsync(EventKinds.Heartbeat, body, ct);
            }
            catch (Exception ex) when (ex is RequestFailedException or HttpRequestException)
            {
                Failed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    async Task AnswerAsync(CancellationToken ct)
    {
        var idle = TimeSpan.Zero;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                QueueMessage[] batch = (await _commands.ReceiveMessagesAsync(BatchSize, TimeSpan.FromSeconds(30), ct)).Value;
                if (batch.Length == 0)
                {
                    idle = idle == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(idle.Ticks * 2, MaxIdle.Ticks));
                    await Task.Delay(idle, ct);
                    continue;
                }

                idle = TimeSpan.Zero;
                await Task.WhenAll(batch.Select(async message =>
                {
                    if (Answer(message.Body.ToString()) is { } result)
                    {
                        await SendAsync(EventKinds.Result, JsonSerializer.SerializeToElement(result, RelayJsonContext.Default.CommandResult), ct);
                        Interlocked.Increment(ref _answered);
                    }

                    await _commands.DeleteMessageAsync(message.MessageId, message.PopReceipt, ct);
                }));
            }
            catch (Exception ex) when (ex is RequestFailedException or HttpRequestException)
            {
                // An undeleted command comes back after its visibility timeout, as with the real relay.
                Failed(ex);
                await Task.Delay(MaxIdle, ct);
            }
        }
    }

    /// <summary>What the real relay would answer had Docker done the work at once; null for a message that does not verify (dropped).</summary>
    CommandResult? Answer(string message)
    {
        byte[]? payload;
        string? problem;
        lock (_commandKeys)
        {
            (payload, _, problem) = Jws.Verify(message, MessageTypes.Command, kid => _commandKeys.GetValueOrDefault(kid));
        }

        if (problem is not null || JsonSerializer.Deserialize(payload, RelayJsonContext.Default.CommandEnvelope) is not { } command || command.NodeId != NodeId)
        {
            return null;
        }

        var id = command.CommandId.ToString("N");
        JsonElement output = command.Kind switch
        {
            CommandKinds.Ping => JsonSerializer.SerializeToElement(new PingOutput("stub", "1.41", DateTimeOffset.UtcNow), RelayJsonContext.Default.PingOutput),
            CommandKinds.PullImage => JsonSerializer.SerializeToElement(new PullImageOutput(command.Body.GetProperty("image").GetString()!, null), RelayJsonContext.Default.PullImageOutput),
            CommandKinds.RunReplica => JsonSerializer.SerializeToElement(new RunReplicaOutput(id, $"stub-{id}", true, []), RelayJsonContext.Default.RunReplicaOutput),
            CommandKinds.Probe => JsonSerializer.SerializeToElement(new ProbeOutput(ProbeKinds.Http, "stub", true, 200, null, null, 0), RelayJsonContext.Default.ProbeOutput),
            _ => JsonSerializer.SerializeToElement(new ContainersOutput([]), RelayJsonContext.Default.ContainersOutput),
        };
        return new CommandResult(command.CommandId, command.OperationId, command.Kind, ResultStatuses.Succeeded, null, output, 0);
    }

    async Task SendAsync(string kind, JsonElement body, CancellationToken ct)
    {
        var envelope = new EventEnvelope(NodeId, Guid.NewGuid(), DateTimeOffset.UtcNow, kind, body);
        string signed;
        lock (_key)
        {
            // ECDsa objects are not documented as thread-safe.
            signed = Jws.Sign(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.EventEnvelope), _key, NodeId.ToString(), MessageTypes.Event);
        }

        await _events.SendMessageAsync(signed, ct);
    }

    void Failed(Exception ex)
    {
        Interlocked.Increment(ref _failures);
        _lastFailure = ex.GetBaseException().Message;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var loop in _loops)
        {
            try
            {
                await loop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
        _key.Dispose();
        foreach (var key in _commandKeys.Values)
        {
            key.Dispose();
        }
    }
}
