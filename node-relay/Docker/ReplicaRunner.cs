using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Docker;

/// <summary>
/// <c>run-replica</c>, idempotent: if this node already has the replica's container of that generation (from an
/// earlier delivery, or one cut short by a crash) it is started if need be and reported, never made twice. Otherwise
/// a hardened container is created and started; if it cannot start, it is removed again so nothing half-made stays.
/// </summary>
public sealed partial class ReplicaRunner(DockerEngine docker, ReplicaContainers containers, HardeningPolicy policy, IOptions<RelayOptions> options)
{
    public async Task<JsonElement> RunAsync(RunReplicaBody body, Guid commandId, CancellationToken ct)
    {
        ReplicaContainers.Validate(body.Replica);
        if (string.IsNullOrWhiteSpace(body.Image) || body.Generation < 0)
        {
            throw new CommandRefusedException("run-replica needs an image and a generation of 0 or more");
        }

        var env = Env(body.Env);
        var hostConfig = policy.HostConfigFor(body, out var exposedPorts);

        var found = await containers.FindAsync(body.Replica, body.Generation, ct);
        var existing = found.Count > 0 ? found[0] : null;
        if (existing is not null)
        {
            if (existing.State != "running")
            {
                await StartAsync(existing.ID, body, removeOnFailure: false, ct);
            }

            return await OutputAsync(existing.ID, existing.Names is { Count: > 0 } names ? names[0].TrimStart('/') : "", created: false, ct);
        }

        CheckHostPortsFree(body);
        if (body.NetworkMode is null or "bridge")
        {
            await CheckBridgeNetworkAsync(hostConfig.NetworkMode, ct);
        }

        var name = containers.NameOf(body.Replica, body.Generation);
        string id;
        try
        {
            var created = await docker.Client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Name = name,
                Image = body.Image,
                Entrypoint = body.Entrypoint is { Count: > 0 } entrypoint ? [.. entrypoint] : null!,
                Cmd = body.Command is { Count: > 0 } command ? [.. command] : null!,
                Env = env!,
                Labels = containers.LabelsFor(body.Replica, body.Generation, commandId, options.Value.ContainerLabels),
                ExposedPorts = exposedPorts,
                HostConfig = hostConfig,
            }, ct);
            id = created.ID;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            // The name is taken: by this replica (made by a delivery the label lookup did not see yet), or by a
            // container that is not ours, which is never touched.
            var taken = await docker.Client.Containers.InspectContainerAsync(name, ct);
            var labels = taken.Config?.Labels ?? new Dictionary<string, string>();
            if (!containers.IsOurs(labels) || ReplicaContainers.GenerationOf(labels) != body.Generation)
            {
                throw new CommandFailedException($"a container named {name} exists and is not this replica's; remove it by hand");
            }

            if (taken.State?.Running != true)
            {
                await StartAsync(taken.ID, body, removeOnFailure: false, ct);
            }

            return await OutputAsync(taken.ID, name, created: false, ct);
        }
        catch (DockerImageNotFoundException)
        {
            throw new CommandFailedException($"image {body.Image} is not on this node; pull it first");
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new CommandFailedException($"image {body.Image} is not on this node; pull it first ({DockerErrors.Message(ex)})");
        }

        await StartAsync(id, body, removeOnFailure: true, ct);
        return await OutputAsync(id, name, created: true, ct);
    }

    async Task StartAsync(string id, RunReplicaBody body, bool removeOnFailure, CancellationToken ct)
    {
        try
        {
            await docker.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct);
        }
        catch (DockerApiException ex)
        {
            var message = DockerErrors.Message(ex);
            if (removeOnFailure)
            {
                await docker.Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
            }

            throw new CommandFailedException(PortInUse().Match(message) is { Success: true } port
                ? $"host port {port.Groups["port"].Value} is already in use ({message})"
                : $"the container of {body.Replica.App}/{body.Replica.Release}/{body.Replica.Replica} did not start: {message}");
        }
    }

    // With host networking the Engine cannot see a clash (the app would just fail to bind), so the relay, which
    // shares the host's network, tries each port itself first. Best effort: the port may be taken right after.
    static void CheckHostPortsFree(RunReplicaBody body)
    {
        if (body.NetworkMode != "host")
        {
            return;
        }

        foreach (var (port, protocol) in HardeningPolicy.HostPorts(body).Where(p => p.Protocol == "tcp"))
        {
            try
            {
                using var listener = new TcpListener(IPAddress.Any, port);
                listener.Start();
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new CommandFailedException($"host port {port}/{protocol} is already in use");
            }
        }
    }

    // An Engine without the network (dockerd --bridge=none has no default bridge) would still create and start the
    // container, silently with no network at all and its port bindings dropped: a replica nobody can reach.
    async Task CheckBridgeNetworkAsync(string network, CancellationToken ct)
    {
        NetworkResponse found;
        try
        {
            found = await docker.Client.Networks.InspectNetworkAsync(network, ct);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new CommandFailedException(
                $"this Docker Engine has no network '{network}' for bridge replicas (an Engine started with --bridge=none has no default bridge); " +
                "create a bridge network and name it in the setting Relay__BridgeNetwork, or use host networking");
        }

        if (found.Driver != "bridge")
        {
            throw new CommandFailedException($"network '{network}' (setting Relay__BridgeNetwork) is a {found.Driver} network, not a bridge");
        }
    }

    static List<string>? Env(IReadOnlyDictionary<string, string>? env)
    {
        if (env is null)
        {
            return null;
        }

        foreach (var key in env.Keys.Where(k => string.IsNullOrEmpty(k) || k.Contains('=') || k.Any(char.IsControl)))
        {
            throw new CommandRefusedException($"environment variable name '{key}' is malformed");
        }

        return [.. env.Select(kv => $"{kv.Key}={kv.Value}")];
    }

    // The bindings as the Engine made them: an automatic host port is chosen only when the container starts.
    async Task<JsonElement> OutputAsync(string id, string name, bool created, CancellationToken ct)
    {
        var inspected = await docker.Client.Containers.InspectContainerAsync(id, ct);
        var ports = ReplicaContainers.HostPorts(inspected);
        return JsonSerializer.SerializeToElement(new RunReplicaOutput(id, name, created, ports), RelayJsonContext.Default.RunReplicaOutput);
    }

    // "Bind for 0.0.0.0:8080 failed: port is already allocated", "listen tcp4 0.0.0.0:8080: bind: address already in use"
    [GeneratedRegex(@"(?:0\.0\.0\.0|\[::\]|[\d.]+):(?<port>\d+)(?: failed: port is already allocated|: bind: address already in use)")]
    private static partial Regex PortInUse();
}
