using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// The real Docker Engine. Every container a test makes carries <see cref="RunLabel"/> with the run id and is removed
/// by that label afterwards, so a failed test leaves nothing running.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public const string RunLabel = "automator67.test-run";

    public DockerClient Client { get; } = new DockerClientBuilder().WithEndpoint(new Uri(TestEnvironment.DockerEndpoint)).Build();

    public static IDictionary<string, string> Labels => new Dictionary<string, string> { [RunLabel] = TestEnvironment.RunId };

    public async ValueTask InitializeAsync() => await Client.System.PingAsync();

    /// <summary>Pulls an image from the local registry once; already present costs one inspect.</summary>
    public async Task PullAsync(string image, CancellationToken cancellationToken)
    {
        var separator = image.LastIndexOf(':');
        await Client.Images.CreateImageAsync(
            new ImagesCreateParameters { FromImage = image[..separator], Tag = image[(separator + 1)..] },
            authConfig: null,
            new Progress<JSONMessage>(),
            cancellationToken);
    }

    public async Task<IList<ContainerListResponse>> ListOwnContainersAsync() =>
        await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{RunLabel}={TestEnvironment.RunId}"] = true },
            },
        });

    public async ValueTask DisposeAsync()
    {
        foreach (var container in await ListOwnContainersAsync())
        {
            await Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
        }

        Client.Dispose();
    }
}
