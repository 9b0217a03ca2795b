using Automator67.Contracts.Relay;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// The real Docker Engine. Every container a test makes carries <see cref="RunLabel"/> with the run id and
/// <see cref="FixtureLabel"/> with this fixture's own id, and is removed by the latter when the fixture ends: classes
/// running at the same time never remove each other's containers, and a failed test leaves nothing running
/// (<c>./a67 test</c> sweeps the run label behind them).
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public const string RunLabel = "automator67.test-run";
    public const string FixtureLabel = "automator67.test-fixture";

    public string FixtureId { get; } = Guid.NewGuid().ToString("N");

    public DockerClient Client { get; } = new DockerClientBuilder().WithEndpoint(new Uri(TestEnvironment.DockerEndpoint)).Build();

    public IDictionary<string, string> Labels => new Dictionary<string, string> { [RunLabel] = TestEnvironment.RunId, [FixtureLabel] = FixtureId };

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

    /// <summary>An app's containers on the Engine, whatever their state and whoever made them: what the relays really did.</summary>
    public async Task<IList<ContainerListResponse>> ContainersOfAppAsync(Guid app, CancellationToken ct) =>
        await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.App}={app:N}"] = true } },
        }, ct);

    public async Task<IList<ContainerListResponse>> ListOwnContainersAsync() =>
        await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{FixtureLabel}={FixtureId}"] = true },
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
