using Automator67.Tests.Infrastructure;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// A bridge network of its own on the real Engine, for relays whose <c>Relay__BridgeNetwork</c> names it: the local
/// stack's dockerd runs with <c>--bridge=none</c>, so it has no default bridge, but user-defined bridges work (a
/// veth per container, port bindings through docker-proxy). Removed afterwards, with anything still attached to it.
/// </summary>
public sealed class BridgeNetworkFixture : IAsyncLifetime
{
    readonly DockerClient _docker = new DockerClientBuilder().WithEndpoint(new Uri(TestEnvironment.DockerEndpoint)).Build();

    public string Name { get; } = $"a67t-{TestEnvironment.RunId}-{Guid.NewGuid().ToString("N")[..8]}";

    public async ValueTask InitializeAsync() =>
        await _docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = Name,
            Driver = "bridge",
            Labels = new Dictionary<string, string> { [DockerFixture.RunLabel] = TestEnvironment.RunId },
        });

    public async ValueTask DisposeAsync()
    {
        // Only containers of these tests can be on a network of this name.
        var network = await _docker.Networks.InspectNetworkAsync(Name);
        foreach (var id in network.Containers?.Keys ?? [])
        {
            await _docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }

        await _docker.Networks.DeleteNetworkAsync(Name);
        _docker.Dispose();
    }
}
