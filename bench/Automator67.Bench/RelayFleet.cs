using System.Net;
using System.Text.Json;

namespace Automator67.Bench;

/// <summary>
/// The relays of one run, all on this host's Docker Engine. Each is enrolled as a user enrols a host: a join token
/// from the API (<c>POST /api/nodes/join-tokens</c>, as the run's account), then <c>node-relay enroll</c>; each runs
/// as a real <c>node-relay run</c> process with a state folder of its own and the relay's default settings, plus one
/// container label carrying the run id (and whatever the workload adds, such as the bridge network for replicas). Dispose stops every relay (SIGTERM) and removes every container of the run,
/// whatever happened before; the nodes and their queues go with the run's database and queue prefix.
/// </summary>
public sealed class RelayFleet : IAsyncDisposable
{
    const int EnrolConcurrency = 4;
    static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(60);

    /// <summary>Past the relay's own shutdown grace (Relay__ShutdownGrace, 20 s) it is killed.</summary>
    static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(25);

    readonly BenchSettings _settings;
    readonly IReadOnlyDictionary<string, string> _relaySettings;
    readonly string _root = Directory.CreateTempSubdirectory("a67-bench-relays-").FullName;
    readonly List<EnrolledRelay> _relays = [];

    RelayFleet(BenchSettings settings, IReadOnlyDictionary<string, string>? relaySettings)
    {
        _settings = settings;
        _relaySettings = relaySettings ?? new Dictionary<string, string>();
    }

    public IReadOnlyList<EnrolledRelay> Relays => _relays;

    /// <summary>The relays running now.</summary>
    public IReadOnlyList<EnrolledRelay> Running => [.. _relays.Where(r => r.Process is not null)];

    /// <summary>
    /// Enrols <paramref name="count"/> nodes for the account; starts none of them. <paramref name="relaySettings"/> go
    /// to every relay started later. A dispose cleans up when this throws.
    /// </summary>
    public static async Task<RelayFleet> EnrolAsync(BenchSettings settings, BenchApi owner, int count, CancellationToken ct,
        IReadOnlyDictionary<string, string>? relaySettings = null)
    {
        var fleet = new RelayFleet(settings, relaySettings);
        try
        {
            var enrolled = new EnrolledRelay?[count];
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = EnrolConcurrency, CancellationToken = ct },
                async (i, token) => enrolled[i] = await fleet.EnrolOneAsync(owner, i, token));
            fleet._relays.AddRange(enrolled.Select(r => r!));
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the first <paramref name="count"/> relays (those not running yet) and waits until each polls its queue.</summary>
    public async Task StartAsync(int count, CancellationToken ct)
    {
        var starting = _relays.Take(count).Where(r => r.Process is null).ToList();
        foreach (var relay in starting)
        {
            var environment = new Dictionary<string, string>(_relaySettings)
            {
                ["Relay__StateDirectory"] = relay.StateDirectory,
                ["Relay__DockerEndpoint"] = _settings.DockerEndpoint,
                [$"Relay__ContainerLabels__{BenchSettings.RunLabel}"] = _settings.RunId,
            };
            relay.Process = ChildProcess.Start(_settings.RelayAssembly, ["run"], environment, StopGrace);
        }

        foreach (var relay in starting)
        {
            if (!await relay.Process!.WaitForLineAsync("Command loop started", ProcessLimit, ct))
            {
                throw new InvalidOperationException($"the relay of node {relay.NodeId} did not start its command loop; its last output:\n{relay.Process.LastLines(10)}");
            }
        }
    }

    async Task<EnrolledRelay> EnrolOneAsync(BenchApi owner, int index, CancellationToken ct)
    {
        var joinToken = await owner.PostAsync("/api/nodes/join-tokens", new { name = $"bench-{index + 1}" }, HttpStatusCode.Created, ct);
        var token = joinToken.GetProperty("token").GetString()!;
        var state = Path.Combine(_root, $"relay-{index + 1}");
        await using (var enrol = ChildProcess.Start(_settings.RelayAssembly, ["enroll", "--url", owner.Http.BaseAddress!.ToString(), "--token", token], new Dictionary<string, string>
        {
            ["Relay__StateDirectory"] = state,
            ["Relay__DockerEndpoint"] = _settings.DockerEndpoint,
        }, StopGrace))
        {
            if (await enrol.WaitForExitAsync(ProcessLimit, ct) != 0)
            {
                throw new InvalidOperationException($"node-relay enroll failed; its last output:\n{enrol.LastLines(10)}");
            }
        }

        using var node = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(state, "node.json"), ct));
        return new EnrolledRelay(node.RootElement.GetProperty("nodeId").GetGuid(), state);
    }

    public async ValueTask DisposeAsync()
    {
        // All at once: each waits for its relay's graceful stop.
        await Task.WhenAll(_relays.Where(r => r.Process is not null).Select(async r =>
        {
            await r.Process!.DisposeAsync();
            r.Process = null;
        }));
        await Cleanup.AttemptAsync("remove the run's containers", () => RawDocker.RemoveRunContainersAsync(_settings.DockerEndpoint, _settings.RunId));
        await Cleanup.AttemptAsync("delete the relays' state folders", () =>
        {
            Directory.Delete(_root, recursive: true);
            return Task.CompletedTask;
        });
    }
}
