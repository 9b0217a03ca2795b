using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Automator67.Tests.Features.Relay;

/// <summary>
/// Plays the relay's part for the control-plane tests: a node key made here, enrolled through the API, and the
/// protocol's own contracts to sign events and to verify commands, on the queues its enrolment credentials open.
/// </summary>
public sealed class TestRelay : IDisposable
{
    public static readonly HostFacts Facts = new("relay-host", "Debian GNU/Linux 12 (bookworm)", "x86_64", 2, 4L * 1024 * 1024 * 1024, "20.10.24", "1.41");

    TestRelay(ECDsa key, EnrollResponse enrollment)
    {
        Key = key;
        Enrollment = enrollment;
        Events = new QueueClient(enrollment.Queues.EventsQueue);
        Commands = new QueueClient(enrollment.Queues.CommandQueue);
    }

    public ECDsa Key { get; }

    public EnrollResponse Enrollment { get; }

    public Guid NodeId => Enrollment.NodeId;

    /// <summary>The events queue, through the node's add-only credential.</summary>
    public QueueClient Events { get; }

    /// <summary>The node's command queue, through its read/process credential.</summary>
    public QueueClient Commands { get; }

    public static async Task<TestRelay> EnrollAsync(ControlPlaneFixture cp, ControlPlaneFixture.Session user)
    {
        using var join = await cp.SendAsync(HttpMethod.Post, "/api/nodes/join-tokens", user.AccessToken, new { });
        Assert.Equal(HttpStatusCode.Created, join.StatusCode);
        var token = (await join.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap())).GetProperty("token").GetString();
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var enroll = await cp.Http.PostAsJsonAsync("/api/relay/enroll",
            new { token, publicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()), facts = Facts }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Created, enroll.StatusCode);
        return new TestRelay(key, (await enroll.Content.ReadFromJsonAsync<EnrollResponse>(JsonSerializerOptions.Web, TestEnvironment.TimeCap()))!);
    }

    public static ContainerReport Container(string app, int replica = 1, ContainerStats? stats = null) =>
        new($"id-{app}-{replica}", $"a67-{app}-{replica}", app, "r1", replica, 1, "running", null, 0, DateTimeOffset.UtcNow, "healthy", stats);

    public EventEnvelope Heartbeat(IReadOnlyList<ContainerReport> containers, HostFacts? facts = null, DateTimeOffset? sentAt = null, int part = 1, int parts = 1,
        Guid? heartbeatId = null) =>
        Envelope(EventKinds.Heartbeat, JsonSerializer.SerializeToElement(new HeartbeatBody(facts ?? Facts, containers, part, parts) { HeartbeatId = heartbeatId },
            RelayJsonContext.Default.HeartbeatBody), sentAt);

    public EventEnvelope Result(Guid commandId, string kind, string status = ResultStatuses.Succeeded, JsonElement? output = null, string? error = null) =>
        Envelope(EventKinds.Result, JsonSerializer.SerializeToElement(new CommandResult(commandId, null, kind, status, error, output, 3), RelayJsonContext.Default.CommandResult));

    public EventEnvelope Envelope(string kind, JsonElement body, DateTimeOffset? sentAt = null) =>
        new(NodeId, Guid.CreateVersion7(), sentAt ?? DateTimeOffset.UtcNow, kind, body);

    /// <summary>The event as a queue message: signed with this node's key (or <paramref name="key"/>), kid = the node id (or <paramref name="kid"/>).</summary>
    public string Sign(EventEnvelope envelope, ECDsa? key = null, string? kid = null, string type = MessageTypes.Event) =>
        Jws.Sign(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.EventEnvelope), key ?? Key, kid ?? NodeId.ToString(), type);

    /// <summary>Sends the event as the relay does, and returns the queue's id for the message.</summary>
    public async Task<string> SendAsync(EventEnvelope envelope, CancellationToken ct) => await SendTextAsync(Sign(envelope), ct);

    public async Task<string> SendTextAsync(string text, CancellationToken ct) => (await Events.SendMessageAsync(text, ct)).Value.MessageId;

    /// <summary>Receives the commands waiting on this node's queue and verifies each with the keys its enrolment gave it.</summary>
    public async Task<IReadOnlyList<(CommandEnvelope Command, QueueMessage Message)>> ReceiveCommandsAsync(CancellationToken ct)
    {
        var received = new List<(CommandEnvelope, QueueMessage)>();
        foreach (var message in (await Commands.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30), ct)).Value)
        {
            var keys = Enrollment.CommandSigningKeys.ToDictionary(k => k.Kid, PublicKey);
            var (payload, _, problem) = Jws.Verify(message.Body.ToString(), MessageTypes.Command, kid => keys.GetValueOrDefault(kid));
            Assert.Null(problem);
            received.Add((JsonSerializer.Deserialize(payload, RelayJsonContext.Default.CommandEnvelope)!, message));
        }

        return received;
    }

    /// <summary>Answers every ping waiting on the queue as a relay would: a succeeded result, then the delete.</summary>
    public async Task<int> AnswerPingsAsync(CancellationToken ct)
    {
        var answered = 0;
        foreach (var (command, message) in await ReceiveCommandsAsync(ct))
        {
            Assert.Equal(NodeId, command.NodeId);
            if (command.Kind == CommandKinds.Ping)
            {
                await SendAsync(Result(command.CommandId, command.Kind), ct);
                answered++;
            }

            await Commands.DeleteMessageAsync(message.MessageId, message.PopReceipt, ct);
        }

        return answered;
    }

    public static ECDsa PublicKey(CommandSigningKey key) => ECDsa.Create(new ECParameters
    {
        Curve = ECCurve.NamedCurves.nistP256,
        Q = new ECPoint { X = Base64Url.DecodeFromChars(key.X), Y = Base64Url.DecodeFromChars(key.Y) },
    });

    public void Dispose() => Key.Dispose();
}

/// <summary>Waiting for the consumer: polls a condition until it holds or the time cap ends the test.</summary>
public static class Eventually
{
    public static async Task<T> ThatAsync<T>(Func<Task<T>> read, Func<T, bool> holds, CancellationToken ct, string? what = null)
    {
        T last;
        while (true)
        {
            last = await read();
            if (holds(last))
            {
                return last;
            }

            if (ct.IsCancellationRequested)
            {
                Assert.Fail($"timed out waiting for {what ?? "the condition"}; last seen: {last}");
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }
}
