using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Bench;

/// <summary>
/// A bridge network of the run's own for the relays' replicas (<c>Relay__BridgeNetwork</c>): the local stack's Engine
/// runs with <c>--bridge=none</c>, so it has no default bridge, but user-defined bridges work. Labelled with the run
/// id; removed on dispose with anything still attached to it.
/// </summary>
public sealed class ReplicaNetwork : IAsyncDisposable
{
    readonly DockerClient _docker;

    ReplicaNetwork(DockerClient docker, string name)
    {
        _docker = docker;
        Name = name;
    }

    public string Name { get; }

    public static async Task<ReplicaNetwork> CreateAsync(BenchSettings settings, CancellationToken ct)
    {
        var docker = new DockerClientBuilder().WithEndpoint(new Uri(settings.DockerEndpoint)).Build();
        var network = new ReplicaNetwork(docker, $"a67b-{settings.RunId}");
        try
        {
            await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = network.Name,
                Driver = "bridge",
                Labels = new Dictionary<string, string> { [BenchSettings.RunLabel] = settings.RunId },
            }, ct);
            return network;
        }
        catch
        {
            docker.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cleanup.AttemptAsync($"remove the Docker network {Name}", async () =>
        {
            var network = await _docker.Networks.InspectNetworkAsync(Name);
            foreach (var id in network.Containers?.Keys ?? [])
            {
                await _docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
            }

            // The Engine may still be letting go of the endpoints of containers removed a moment ago.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await _docker.Networks.DeleteNetworkAsync(Name);
                    return;
                }
                catch (DockerApiException ex) when (attempt < 5 && ex.ResponseBody?.Contains("active endpoints", StringComparison.Ordinal) == true)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            }
        });
        _docker.Dispose();
    }
}
