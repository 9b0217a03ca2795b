using System.Globalization;
using Automator67.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace Automator67.Tests.LocalStack;

/// <summary>
/// The sample images the stack script builds and pushes to the local registry: v1 and v2 answer with their version,
/// v3 never becomes healthy. Later issues deploy them; these tests keep them honest.
/// </summary>
public sealed class SampleImageTests(DockerFixture docker) : IClassFixture<DockerFixture>
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };

    async Task<(string Id, int Port)> RunAsync(string tag, CancellationToken ct)
    {
        var image = $"{TestEnvironment.SampleImage}:{tag}";
        await docker.PullAsync(image, ct);
        var port = ProductProcess.FreePort();
        var created = await docker.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Name = $"a67t-{TestEnvironment.RunId}-{tag}-{port}",
            Labels = docker.Labels,
            Env = [$"PORT={port.ToString(CultureInfo.InvariantCulture)}"],
            HostConfig = new HostConfig { NetworkMode = "host", Memory = 64 * 1024 * 1024 },
        }, ct);
        await docker.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct);
        return (created.ID, port);
    }

    static async Task<string?> TryGetAsync(string url, CancellationToken ct)
    {
        try
        {
            return await Http.GetStringAsync(url, ct);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task HealthyVersions_AnswerWithTheirVersion(string tag)
    {
        var ct = TestEnvironment.TimeCap();
        var (id, port) = await RunAsync(tag, ct);

        string? body;
        while ((body = await TryGetAsync($"http://127.0.0.1:{port}/", ct)) is null)
        {
            await Task.Delay(100, ct);
        }

        Assert.Contains($"automator67 sample {tag}", body, StringComparison.Ordinal);
        Assert.Equal("ok", (await Http.GetStringAsync($"http://127.0.0.1:{port}/healthz", ct)).Trim());
        await docker.Client.Containers.StopContainerAsync(id, new ContainerStopParameters { WaitBeforeKillSeconds = 5 }, ct);
        var stopped = await docker.Client.Containers.InspectContainerAsync(id, ct);
        Assert.False(stopped.State?.Running == true);
    }

    [Fact]
    public async Task V3_RunsButNeverAnswers()
    {
        var ct = TestEnvironment.TimeCap();
        var (id, port) = await RunAsync("v3", ct);

        // Give it the time v1 needs several times over; it must still be running and still silent.
        await Task.Delay(TimeSpan.FromSeconds(2), ct);

        Assert.True((await docker.Client.Containers.InspectContainerAsync(id, ct)).State?.Running == true);
        Assert.Null(await TryGetAsync($"http://127.0.0.1:{port}/healthz", ct));
    }

    [Fact]
    public async Task Fixture_FindsItsContainersByRunLabel()
    {
        var ct = TestEnvironment.TimeCap();
        var (id, _) = await RunAsync("v1", ct);

        var own = await docker.ListOwnContainersAsync();

        Assert.Contains(own, c => c.ID == id);
        Assert.All(own, c => Assert.Equal(TestEnvironment.RunId, c.Labels[DockerFixture.RunLabel]));
    }
}
