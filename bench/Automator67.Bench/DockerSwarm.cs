using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Bench;

/// <summary>
/// Docker Swarm on the same Engine, the other side of the deploy comparison. It joins the swarm the Engine is in, or
/// makes one (<c>docker swarm init --advertise-addr 127.0.0.1</c>, listening on loopback only) when the Engine is in
/// none. Services run on a bridge network of the run's own, swarm-scoped (the Engine has no default bridge, and an
/// overlay would add what Automator67's replicas do not have). Dispose leaves the Engine as found, whatever happened:
/// the run's services removed (and their containers waited for), its network deleted, and, only when this run made
/// the swarm, the swarm left and the <c>docker_gwbridge</c> network it created deleted.
/// </summary>
public sealed class DockerSwarm : IAsyncDisposable
{
    /// <summary>The Engine's own network for swarm tasks; <c>swarm init</c> creates it and <c>swarm leave</c> keeps it.</summary>
    const string GatewayBridge = "docker_gwbridge";

    /// <summary>On the swarm node this run made: what <c>./a67 bench</c> reads to leave it behind a killed bench.</summary>
    public const string NodeLabel = "automator67.bench-swarm";

    static readonly TimeSpan ContainersGoneLimit = TimeSpan.FromSeconds(60);

    readonly BenchSettings _settings;
    readonly DockerClient _docker;
    bool _initialised;
    bool _gatewayBridgeExisted = true;
    string? _network;

    DockerSwarm(BenchSettings settings, DockerClient docker)
    {
        _settings = settings;
        _docker = docker;
    }

    /// <summary>Why Swarm cannot run here, in a sentence; null when it can.</summary>
    public string? Problem { get; private set; }

    /// <summary>True when this run made the swarm (and leaves it at the end).</summary>
    public bool Initialised => _initialised;

    public DockerClient Docker => _docker;

    public string NetworkName => $"a67b-{_settings.RunId}-swarm";

    public static async Task<DockerSwarm> JoinAsync(BenchSettings settings, CancellationToken ct)
    {
        var swarm = new DockerSwarm(settings, new DockerClientBuilder().WithEndpoint(new Uri(settings.DockerEndpoint)).Build());
        try
        {
            await swarm.PrepareAsync(ct);
            return swarm;
        }
        catch
        {
            await swarm.DisposeAsync();
            throw;
        }
    }

    async Task PrepareAsync(CancellationToken ct)
    {
        var info = (await _docker.System.GetSystemInfoAsync(ct)).Swarm;
        switch (info?.LocalNodeState)
        {
            case "inactive":
                _gatewayBridgeExisted = (await _docker.Networks.ListNetworksAsync(cancellationToken: ct)).Any(n => n.Name == GatewayBridge);
                try
                {
                    var nodeId = await _docker.Swarm.InitSwarmAsync(new SwarmInitParameters { ListenAddr = "127.0.0.1:2377", AdvertiseAddr = "127.0.0.1" }, ct);
                    _initialised = true;
                    await LabelNodeAsync(nodeId, ct);
                }
                catch (DockerApiException ex)
                {
                    Problem = $"docker swarm init --advertise-addr 127.0.0.1 failed on this Engine: {ex.ResponseBody?.Trim() ?? ex.Message}";
                    return;
                }

                break;
            case "active" when info.ControlAvailable:
                break;
            default:
                Problem = $"the Engine is in a swarm state this bench cannot use ({info?.LocalNodeState ?? "unknown"}{(info?.ControlAvailable == false ? ", not a manager" : "")}): services cannot be created here";
                return;
        }

        try
        {
            await _docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = NetworkName,
                Driver = "bridge",
                Scope = "swarm",
                Labels = new Dictionary<string, string> { [BenchSettings.RunLabel] = _settings.RunId },
            }, ct);
            _network = NetworkName;
        }
        catch (DockerApiException ex)
        {
            Problem = $"a swarm-scoped bridge network could not be created on this Engine: {ex.ResponseBody?.Trim() ?? ex.Message}";
        }
    }

    /// <summary>Marks the node this run made, so <c>./a67 bench</c> can leave the swarm behind a bench that was killed.</summary>
    async Task LabelNodeAsync(string nodeId, CancellationToken ct)
    {
        var node = await _docker.Swarm.InspectNodeAsync(nodeId, ct);
        var spec = node.Spec ?? throw new InvalidOperationException($"the swarm node {nodeId} has no spec");
        spec.Labels = new Dictionary<string, string>(spec.Labels ?? new Dictionary<string, string>())
        {
            [NodeLabel] = _settings.RunId + (_gatewayBridgeExisted ? "" : "+gwbridge"),
        };
        await _docker.Swarm.UpdateNodeAsync(nodeId, node.Version?.Index ?? 0, spec, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await Cleanup.AttemptAsync("remove the run's Swarm services", async () =>
        {
            var services = await _docker.Swarm.ListServicesAsync(new ServiceListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{BenchSettings.RunLabel}={_settings.RunId}"] = true } },
            });
            foreach (var service in services)
            {
                await _docker.Swarm.RemoveServiceAsync(service.ID);
                await SwarmServices.WaitUntilGoneAsync(_docker, service.ID, ContainersGoneLimit, CancellationToken.None);
            }
        });
        if (_network is not null)
        {
            await Cleanup.AttemptAsync($"delete the Docker network {_network}", () => _docker.Networks.DeleteNetworkAsync(_network));
        }

        if (_initialised)
        {
            await Cleanup.AttemptAsync("leave the swarm this run made", () => _docker.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true }));
            if (!_gatewayBridgeExisted)
            {
                await Cleanup.AttemptAsync($"delete the {GatewayBridge} network that swarm init made", () => _docker.Networks.DeleteNetworkAsync(GatewayBridge));
            }
        }

        _docker.Dispose();
    }
}
