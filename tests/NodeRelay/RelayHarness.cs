using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Azure.Storage.Queues;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// One enrolled relay (its own state folder, the real <c>node-relay run</c> process) with the test in the control
/// plane's seat: it signs commands with the control plane's command key, adds them to the node's queue with the
/// account key, and reads the node's signed events (verified with the node's public key) from the events queue.
/// Containers the relay makes carry the run label; the node's containers are removed on dispose.
/// </summary>
public sealed class RelayHarness : IAsyncDisposable
{
    readonly ControlPlaneFixture _cp;
    readonly DockerFixture _docker;
    readonly RelayEvents _events;
    readonly string _root = Directory.CreateTempSubdirectory("a67-relay-run-").FullName;
    readonly ECDsa _commandKey;
    readonly string _kid;

    RelayHarness(ControlPlaneFixture cp, DockerFixture docker, RelayEvents events, Guid nodeId, string kid, ECDsa commandKey)
    {
        _cp = cp;
        _docker = docker;
        _events = events;
        NodeId = nodeId;
        _kid = kid;
        _commandKey = commandKey;
    }

    public Guid NodeId { get; }

    /// <summary>The account the node was enrolled into (its join token's creator).</summary>
    public ControlPlaneFixture.Session Owner { get; private init; } = null!;

    /// <summary>The relay's state file (<c>node.json</c>) as JSON, to read or change before a start.</summary>
    public System.Text.Json.Nodes.JsonNode ReadState() => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(StateDirectory, "node.json")))!;

    public void WriteState(System.Text.Json.Nodes.JsonNode state) => File.WriteAllText(Path.Combine(StateDirectory, "node.json"), state.ToJsonString());

    public string StateDirectory => Path.Combine(_root, "state");

    public ProductProcess? Process { get; private set; }

    /// <summary>Settings for the relay process beyond the basics; set before <see cref="StartAsync"/>.</summary>
    public Dictionary<string, string?> Settings { get; } = new()
    {
        ["Relay__MaxPollInterval"] = "00:00:00.200",
        ["Relay__VisibilityTimeout"] = "00:00:03",
        ["Relay__ShutdownGrace"] = "00:00:05",
    };

    public QueueClient CommandQueue => new QueueServiceClient(TestEnvironment.Storage).GetQueueClient(QueueNames.NodeCommands(_cp.Queues.Prefix, NodeId));

    /// <summary>Signs up a user, enrols a relay with a join token (as a user would, with node-relay enroll) and starts nothing yet.</summary>
    public static async Task<RelayHarness> EnrolAsync(ControlPlaneFixture cp, DockerFixture docker, RelayEvents events, CancellationToken ct,
        ControlPlaneFixture.Session? owner = null)
    {
        var user = owner ?? await cp.SignUpAsync();
        using var response = await cp.SendAsync(HttpMethod.Post, "/api/nodes/join-tokens", user.AccessToken, new { name = $"relay-{Guid.NewGuid():N}"[..20] });
        var token = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("token").GetString()!;
        var root = Directory.CreateTempSubdirectory("a67-relay-enrol-").FullName;
        var state = Path.Combine(root, "state");
        await using (var enroll = ProductProcess.StartRelay(["enroll", "--url", cp.Http.BaseAddress!.ToString(), "--token", token], new Dictionary<string, string?>
        {
            ["Relay__StateDirectory"] = state,
            ["Relay__DockerEndpoint"] = TestEnvironment.DockerEndpoint,
        }))
        {
            Assert.True(await enroll.WaitForExitAsync(ct) == 0, enroll.Stderr);
        }

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(state, "node.json"), ct));
        var nodeId = json.RootElement.GetProperty("nodeId").GetGuid();
        var nodeKey = ECDsa.Create();
        nodeKey.ImportPkcs8PrivateKey(Convert.FromBase64String(json.RootElement.GetProperty("privateKey").GetString()!), out _);
        events.Trust(nodeId, ECDsa.Create(nodeKey.ExportParameters(includePrivateParameters: false)));
        var (kid, commandKey) = ReadCommandKey(cp.CommandSigningKeyFile);
        var harness = new RelayHarness(cp, docker, events, nodeId, kid, commandKey) { Owner = user };
        Directory.Move(state, harness.StateDirectory);
        Directory.Delete(root, recursive: true);
        return harness;
    }

    // The control plane's active command key, from its key file: {"keys":[{"kid","createdAt","retiredAt","privateKey"}]}.
    static (string Kid, ECDsa Key) ReadCommandKey(string file)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        var active = json.RootElement.GetProperty("keys").EnumerateArray().Last(k => k.GetProperty("retiredAt").ValueKind == JsonValueKind.Null);
        var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(active.GetProperty("privateKey").GetString()!), out _);
        return (active.GetProperty("kid").GetString()!, key);
    }

    /// <summary>Starts <c>node-relay run</c> and waits until its command loop says it is polling.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        var environment = new Dictionary<string, string?>
        {
            ["Relay__StateDirectory"] = StateDirectory,
            ["Relay__DockerEndpoint"] = TestEnvironment.DockerEndpoint,
            [$"Relay__ContainerLabels__{DockerFixture.RunLabel}"] = TestEnvironment.RunId,
            [$"Relay__ContainerLabels__{DockerFixture.FixtureLabel}"] = _docker.FixtureId,
        };
        foreach (var (name, value) in Settings)
        {
            environment[name] = value;
        }

        Process = ProductProcess.StartRelay(["run"], environment);
        while (!Process.Stdout.Contains("Command loop started", StringComparison.Ordinal))
        {
            Assert.False(Process.HasExited, $"the relay exited: {Output}");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Points the relay's queue credentials at another port (a <see cref="SocketProxy"/> in front of Azurite); returns Azurite's port.</summary>
    public int RouteQueuesThrough(int port)
    {
        var file = Path.Combine(StateDirectory, "node.json");
        var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!;
        var queues = state["queues"]!;
        var original = new Uri(queues["commandQueue"]!.GetValue<string>()).Port;
        foreach (var name in new[] { "commandQueue", "eventsQueue" })
        {
            queues[name] = new UriBuilder(queues[name]!.GetValue<string>()) { Port = port }.Uri.ToString();
        }

        File.WriteAllText(file, state.ToJsonString());
        return original;
    }

    public string Output => Process is null ? "" : Process.Stdout + Process.Stderr;

    /// <summary>SIGKILL: no chance to clean up, as in a power cut or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
            Process = null;
        }
    }

    /// <summary>A command envelope signed as the control plane signs it (or otherwise, to forge one).</summary>
    public string Sign<T>(string kind, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, Guid? commandId = null, Guid? nodeId = null,
        DateTimeOffset? expiresAt = null, ECDsa? key = null, string? kid = null)
    {
        var now = DateTimeOffset.UtcNow;
        var envelope = new CommandEnvelope(nodeId ?? NodeId, commandId ?? Guid.NewGuid(), Guid.NewGuid(), now, expiresAt ?? now.AddMinutes(5), kind,
            JsonSerializer.SerializeToElement(body, type));
        return Jws.Sign(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.CommandEnvelope), key ?? _commandKey, kid ?? _kid, MessageTypes.Command);
    }

    public static Guid CommandIdOf(string message)
    {
        var payload = System.Buffers.Text.Base64Url.DecodeFromChars(message.Split('.')[1]);
        return JsonSerializer.Deserialize(payload, RelayJsonContext.Default.CommandEnvelope)!.CommandId;
    }

    public async Task<Guid> EnqueueAsync(string message, CancellationToken ct)
    {
        await CommandQueue.SendMessageAsync(message, ct);
        return message.Count(c => c == '.') == 2 ? SafeCommandId(message) : Guid.Empty;
    }

    static Guid SafeCommandId(string message)
    {
        try
        {
            return CommandIdOf(message);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return Guid.Empty;
        }
    }

    /// <summary>Signs, enqueues and waits for the command's result.</summary>
    public async Task<CommandResult> RunAsync<T>(string kind, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken ct)
    {
        var commandId = await EnqueueAsync(Sign(kind, body, type), ct);
        return await ResultAsync(commandId, ct);
    }

    public async Task<CommandResult> ResultAsync(Guid commandId, CancellationToken ct) =>
        await ResultAsync(r => r.CommandId == commandId, ct);

    public async Task<CommandResult> ResultAsync(Func<CommandResult, bool> match, CancellationToken ct)
    {
        var envelope = await _events.WaitAsync(NodeId, e => e.Kind == EventKinds.Result && match(ResultOf(e)), ct, () => Output);
        return ResultOf(envelope);
    }

    public async Task<HeartbeatBody> HeartbeatAsync(Func<HeartbeatBody, bool> match, CancellationToken ct)
    {
        var envelope = await _events.WaitAsync(NodeId, e => e.Kind == EventKinds.Heartbeat && match(HeartbeatOf(e)), ct, () => Output);
        return HeartbeatOf(envelope);
    }

    /// <summary>Every result of this node seen so far that matches.</summary>
    public IReadOnlyList<CommandResult> ResultsSeen(Func<CommandResult, bool> match) =>
        [.. _events.Seen(NodeId).Where(e => e.Kind == EventKinds.Result).Select(ResultOf).Where(match)];

    static CommandResult ResultOf(EventEnvelope e) => e.Body.Deserialize(RelayJsonContext.Default.CommandResult)!;

    static HeartbeatBody HeartbeatOf(EventEnvelope e) => e.Body.Deserialize(RelayJsonContext.Default.HeartbeatBody)!;

    public static T OutputOf<T>(CommandResult result, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        result.Output!.Value.Deserialize(type)!;

    /// <summary>This node's containers, straight from the Engine.</summary>
    public async Task<IList<Docker.DotNet.Models.ContainerListResponse>> ContainersAsync(CancellationToken ct) =>
        await _docker.Client.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Node}={NodeId}"] = true },
            },
        }, ct);

    public static RunReplicaBody SampleReplica(string tag, int port, string app = "web", int replica = 0, long generation = 1) =>
        new(new ReplicaSelector(app, "r1", replica), generation, $"{TestEnvironment.SampleImage}:{tag}", null,
            new Dictionary<string, string> { ["PORT"] = port.ToString(CultureInfo.InvariantCulture) },
            [new PortBinding(port, null)], new ResourceLimits(null, 64 * 1024 * 1024, null), new RestartPolicySpec("no"), null, null, "host");

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        foreach (var container in await ContainersAsync(CancellationToken.None))
        {
            await _docker.Client.Containers.RemoveContainerAsync(container.ID, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true });
        }

        _commandKey.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
