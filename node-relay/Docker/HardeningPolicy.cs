using System.Globalization;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Docker.DotNet.Models;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Docker;

/// <summary>
/// Turns a run-replica body into a hardened container configuration, or refuses it with the reason. Always: every
/// capability dropped but those asked for from the allowlist, no-new-privileges, never privileged, no host PID or IPC
/// namespace, a pids limit, bounded log files. Host folders only from <see cref="RelayOptions.AllowedHostPaths"/>, and
/// never one that holds the Docker socket: a container with the socket owns the host.
/// </summary>
public sealed class HardeningPolicy(IOptions<RelayOptions> options)
{
    static readonly string[] NetworkModes = ["bridge", "host", "none"];
    static readonly string[] RestartPolicies = ["no", "always", "on-failure", "unless-stopped"];
    static readonly string[] Protocols = ["tcp", "udp", "sctp"];

    public HostConfig HostConfigFor(RunReplicaBody body, out IDictionary<string, EmptyStruct>? exposedPorts)
    {
        var settings = options.Value;
        var network = body.NetworkMode ?? "bridge";
        if (!NetworkModes.Contains(network))
        {
            throw new CommandRefusedException($"network mode '{network}' is not allowed; use bridge, host or none");
        }

        var host = new HostConfig
        {
            NetworkMode = network == "bridge" ? settings.BridgeNetwork : network,
            Privileged = false,
            CapDrop = ["ALL"],
            CapAdd = Capabilities(body.CapAdd, settings),
            SecurityOpt = ["no-new-privileges:true"],
            PidsLimit = settings.DefaultPidsLimit,
            Binds = Binds(body.HostPaths, settings),
            RestartPolicy = RestartPolicy(body.RestartPolicy),
            // The relay reads logs through the Engine, so they must be in the json-file driver; bounded, so a chatty
            // replica cannot fill the host's disk.
            LogConfig = new LogConfig { Type = "json-file", Config = new Dictionary<string, string> { ["max-size"] = "10m", ["max-file"] = "3" } },
        };

        if (body.Resources is { } limits)
        {
            if (limits.NanoCpus is < 0 || limits.MemoryBytes is < 0 || limits.Pids is < 0)
            {
                throw new CommandRefusedException("resource limits must not be negative");
            }

            host.NanoCPUs = limits.NanoCpus ?? 0;
            host.Memory = limits.MemoryBytes ?? 0;
            host.PidsLimit = limits.Pids is > 0 ? limits.Pids : settings.DefaultPidsLimit;
        }

        exposedPorts = null;
        if (body.Ports is { Count: > 0 } ports)
        {
            if (network == "none")
            {
                throw new CommandRefusedException("ports need bridge or host networking, not none");
            }

            foreach (var port in ports)
            {
                if (port.ContainerPort is < 1 or > 65535 || port.HostPort is < 1 or > 65535 || !Protocols.Contains(port.Protocol))
                {
                    throw new CommandRefusedException($"port binding {port.ContainerPort}->{port.HostPort}/{port.Protocol} is malformed (ports 1-65535; tcp, udp or sctp)");
                }
            }

            // With host networking the container listens on the host's ports itself; bindings would only be ignored.
            if (network == "bridge")
            {
                exposedPorts = ports.ToDictionary(p => Key(p), _ => default(EmptyStruct));
                host.PortBindings = ports.GroupBy(Key).ToDictionary(
                    g => g.Key,
                    g => (IList<global::Docker.DotNet.Models.PortBinding>)[.. g.Select(p => new global::Docker.DotNet.Models.PortBinding { HostPort = p.HostPort?.ToString(CultureInfo.InvariantCulture) ?? "" })]);
            }
        }

        return host;
    }

    /// <summary>The host ports a replica will hold, to check before it starts (host networking: the container's own ports).</summary>
    public static IEnumerable<(int Port, string Protocol)> HostPorts(RunReplicaBody body) =>
        (body.Ports ?? []).Select(p => (body.NetworkMode == "host" ? p.HostPort ?? p.ContainerPort : p.HostPort ?? 0, p.Protocol)).Where(p => p.Item1 > 0);

    static string Key(Contracts.Relay.PortBinding port) => $"{port.ContainerPort.ToString(CultureInfo.InvariantCulture)}/{port.Protocol}";

    static List<string> Capabilities(IReadOnlyList<string>? asked, RelayOptions settings)
    {
        var allowed = settings.CapabilityAllowlist();
        var capabilities = new List<string>();
        foreach (var capability in (asked ?? []).Select(Docker.Capabilities.Normalize))
        {
            if (!allowed.Contains(capability))
            {
                throw new CommandRefusedException(
                    $"capability {capability} is not allowed on this node (allowed: {(allowed.Count == 0 ? "none" : string.Join(", ", allowed))}; setting Relay__AllowedCapabilities)");
            }

            capabilities.Add(capability);
        }

        return capabilities;
    }

    static List<string> Binds(IReadOnlyList<string>? hostPaths, RelayOptions settings)
    {
        var binds = new List<string>();
        foreach (var entry in hostPaths ?? [])
        {
            var parts = (entry ?? "").Split(':');
            if (parts.Length is < 2 or > 3 || !Path.IsPathFullyQualified(parts[0]) || !Path.IsPathFullyQualified(parts[1]) || (parts.Length == 3 && parts[2] is not ("ro" or "rw")))
            {
                throw new CommandRefusedException($"host path '{entry}' must be /host/folder:/container/folder, optionally with :ro or :rw");
            }

            var source = HostPaths.Resolve(parts[0]);
            if (HostPaths.DockerSockets(settings.DockerEndpoint).Any(socket => HostPaths.IsSameOrBelow(socket, source)))
            {
                throw new CommandRefusedException($"host path {parts[0]} is never mounted: it is or holds the Docker socket, which would hand the container the whole host");
            }

            var allowed = settings.HostPathAllowlist().Select(HostPaths.Resolve).ToList();
            if (!allowed.Any(root => HostPaths.IsSameOrBelow(source, root)))
            {
                throw new CommandRefusedException(allowed.Count == 0
                    ? $"host path {parts[0]} is not allowed: this node allows no host folders (setting Relay__AllowedHostPaths)"
                    : $"host path {parts[0]} is not under an allowed folder ({string.Join(", ", allowed)}; setting Relay__AllowedHostPaths)");
            }

            binds.Add(parts.Length == 3 ? $"{source}:{parts[1]}:{parts[2]}" : $"{source}:{parts[1]}");
        }

        return binds;
    }

    static RestartPolicy RestartPolicy(RestartPolicySpec? spec)
    {
        if (spec is null)
        {
            return new RestartPolicy { Name = RestartPolicyKind.No };
        }

        if (!RestartPolicies.Contains(spec.Name) || spec.MaximumRetryCount < 0)
        {
            throw new CommandRefusedException($"restart policy '{spec.Name}' is not one of {string.Join(", ", RestartPolicies)}");
        }

        return new RestartPolicy
        {
            Name = spec.Name switch
            {
                "always" => RestartPolicyKind.Always,
                "on-failure" => RestartPolicyKind.OnFailure,
                "unless-stopped" => RestartPolicyKind.UnlessStopped,
                _ => RestartPolicyKind.No,
            },
            MaximumRetryCount = spec.Name == "on-failure" ? spec.MaximumRetryCount : 0,
        };
    }
}

/// <summary>Linux capability names as Docker takes them: upper case, without the CAP_ prefix.</summary>
public static class Capabilities
{
    public static string Normalize(string name)
    {
        var upper = (name ?? "").Trim().ToUpperInvariant();
        return upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper[4..] : upper;
    }
}
