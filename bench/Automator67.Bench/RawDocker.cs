using System.Globalization;
using Automator67.Contracts.Relay;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Bench;

/// <summary>
/// The Docker Engine work of a relay command, done straight from this process: the same client library
/// (Docker.DotNet.Enhanced), the same calls, the same Engine. <c>ping</c> asks the Engine its version; <c>inspect</c>
/// lists the replica's containers by label (this node's, as the relay filters) and inspects each. One client per
/// relay-sized group of workers, as each relay has one client of its own. The floor under a command's round trip.
/// </summary>
public sealed class RawDocker : IDisposable
{
    readonly DockerClient[] _clients;
    readonly int _workersPerClient;

    public RawDocker(string endpoint, int clients, int workersPerClient)
    {
        _clients = [.. Enumerable.Range(0, clients).Select(_ => new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).Build())];
        _workersPerClient = workersPerClient;
    }

    /// <summary>What the relay's <c>ping</c> does with the Engine.</summary>
    public Task<string?> PingAsync(int worker, CancellationToken ct) =>
        AttemptAsync(async () =>
        {
            await Client(worker).System.GetVersionAsync(ct);
            return null;
        });

    /// <summary>What the relay's <c>inspect</c> does with the Engine, for the replica of <paramref name="nodeId"/>.</summary>
    public Task<string?> InspectAsync(int worker, Guid nodeId, ReplicaSelector replica, CancellationToken ct) =>
        AttemptAsync(async () =>
        {
            var client = Client(worker);
            var found = await client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["label"] = new Dictionary<string, bool>
                    {
                        [ContainerLabels.App] = true,
                        [$"{ContainerLabels.Node}={nodeId}"] = true,
                        [$"{ContainerLabels.App}={replica.App}"] = true,
                        [$"{ContainerLabels.Release}={replica.Release}"] = true,
                        [$"{ContainerLabels.Replica}={replica.Replica.ToString(CultureInfo.InvariantCulture)}"] = true,
                    },
                },
            }, ct);
            foreach (var container in found)
            {
                await client.Containers.InspectContainerAsync(container.ID, ct);
            }

            return found.Count > 0 ? null : "no container";
        });

    /// <summary>Every container of the run (the relays label what they make with the run id), removed by force.</summary>
    public static async Task RemoveRunContainersAsync(string endpoint, string runId)
    {
        using var client = new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).Build();
        var containers = await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{BenchSettings.RunLabel}={runId}"] = true } },
        });
        foreach (var container in containers)
        {
            await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    DockerClient Client(int worker) => _clients[worker / _workersPerClient % _clients.Length];

    /// <summary>Null when the call succeeded, else a short name for how it failed.</summary>
    static async Task<string?> AttemptAsync(Func<Task<string?>> call)
    {
        try
        {
            return await call();
        }
        catch (DockerApiException ex)
        {
            return $"Docker {(int)ex.StatusCode}";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException)
        {
            return ex.GetType().Name;
        }
    }
}
