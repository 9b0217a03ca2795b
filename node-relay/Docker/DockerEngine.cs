using System.Runtime.InteropServices;
using Automator67.Contracts.Nodes;
using Docker.DotNet;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Docker;

/// <summary>The relay's one connection to the host's Docker Engine (Docker.DotNet.Enhanced).</summary>
public sealed class DockerEngine(IOptions<RelayOptions> options) : IDisposable
{
    readonly Lazy<DockerClient> _client = new(() => new DockerClientBuilder()
        .WithEndpoint(new Uri(options.Value.DockerEndpoint))
        .WithTimeout(options.Value.DockerTimeout)
        .Build());

    public DockerClient Client => _client.Value;

    /// <summary>Reads the host facts sent at enrolment; the Engine's view wins, since it is what runs the containers.</summary>
    public async Task<HostFacts> ReadHostFactsAsync(CancellationToken cancellationToken)
    {
        var version = await Client.System.GetVersionAsync(cancellationToken);
        var info = await Client.System.GetSystemInfoAsync(cancellationToken);
        return new HostFacts(
            Hostname: string.IsNullOrEmpty(info.Name) ? Environment.MachineName : info.Name,
            OperatingSystem: string.IsNullOrEmpty(info.OperatingSystem) ? RuntimeInformation.OSDescription : info.OperatingSystem,
            Architecture: string.IsNullOrEmpty(info.Architecture) ? RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant() : info.Architecture,
            Cpus: info.NCPU > 0 ? (int)info.NCPU : Environment.ProcessorCount,
            MemoryBytes: info.MemTotal,
            DockerVersion: version.Version,
            DockerApiVersion: version.APIVersion);
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
