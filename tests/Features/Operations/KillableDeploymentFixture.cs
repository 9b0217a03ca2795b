using System.Globalization;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <see cref="DeploymentFixture"/> (the control plane, two relays, a bridge network) with settings that let a killed
/// control-plane process be caught up within a test: events it had received come back after 5 s instead of 60, and
/// its Hangfire locks (the recovery job's) lapse after 10 s instead of a minute. It can start more control-plane
/// processes on the same database and queues, and lists an app's containers on the Engine.
/// </summary>
public sealed class KillableDeploymentFixture : IAsyncLifetime
{
    readonly List<ControlPlaneProcess> _extra = [];

    public DeploymentFixture Deployment { get; } = new();

    public ControlPlaneFixture ControlPlane => Deployment.ControlPlane;

    public OperationsClient Client => new(ControlPlane.Http, Deployment.Owner.AccessToken);

    public async ValueTask InitializeAsync()
    {
        var settings = ControlPlane.Settings;
        settings["RelayEvents__VisibilityTimeout"] = "00:00:05";
        settings["Orchestrations__DistributedLockTimeout"] = "00:00:10";
        settings["Orchestrations__InvisibilityTimeout"] = "00:00:30";
        settings["Operations__CommandTimeout"] = "00:00:15";
        settings["Operations__PullTimeout"] = "00:00:30";
        await Deployment.InitializeAsync();
    }

    /// <summary>Another control-plane process on the fixture's database, queues and keys, on a port of its own.</summary>
    public async Task<ControlPlaneProcess> StartControlPlaneAsync(CancellationToken ct)
    {
        var process = await ControlPlaneProcess.StartAsync(ControlPlane, Deployment.Owner.AccessToken, ct);
        _extra.Add(process);
        return process;
    }

    /// <summary>The app's containers on the Engine, whatever their state: what the relays really made.</summary>
    public Task<IList<ContainerListResponse>> ContainersOfAsync(Guid app, CancellationToken ct) => Deployment.Docker.ContainersOfAppAsync(app, ct);

    /// <summary>Exactly <paramref name="count"/> containers of the app, all of <paramref name="release"/>, one per slot.</summary>
    public async Task AssertContainersAsync(Guid app, int release, int count, CancellationToken ct)
    {
        var containers = await ContainersOfAsync(app, ct);
        var described = string.Join("\n", containers.Select(c =>
            $"{c.Names.FirstOrDefault()} release {c.Labels[ContainerLabels.Release]} slot {c.Labels[ContainerLabels.Replica]} generation {c.Labels[ContainerLabels.Generation]} {c.State}"));
        Assert.True(containers.Count == count, $"{containers.Count} containers of the app, not {count}:\n{described}");
        Assert.All(containers, c => Assert.Equal(release.ToString(CultureInfo.InvariantCulture), c.Labels[ContainerLabels.Release]));
        Assert.All(containers, c => Assert.Equal("running", c.State));
        Assert.Equal(count, containers.Select(c => c.Labels[ContainerLabels.Replica]).Distinct().Count());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _extra)
        {
            await process.DisposeAsync();
        }

        await Deployment.DisposeAsync();
    }
}

/// <summary>One more control-plane process beside a <see cref="ControlPlaneFixture"/>'s, with a client of its API.</summary>
public sealed class ControlPlaneProcess : IAsyncDisposable
{
    ProductProcess? _process;
    string _output = "";

    ControlPlaneProcess(ProductProcess process, HttpClient http, string accessToken)
    {
        _process = process;
        Http = http;
        Client = new OperationsClient(http, accessToken);
    }

    public HttpClient Http { get; }

    public OperationsClient Client { get; }

    public string Output => _output + (_process is null ? "" : _process.Stdout + _process.Stderr);

    public static async Task<ControlPlaneProcess> StartAsync(ControlPlaneFixture controlPlane, string accessToken, CancellationToken ct)
    {
        var port = ProductProcess.FreePort();
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(15) };
        var process = new ControlPlaneProcess(ProductProcess.StartControlPlane(controlPlane.Environment(port)), http, accessToken);
        if (!await process._process!.WaitUntilAnsweringAsync(http, "/healthz", ct))
        {
            throw new InvalidOperationException($"the second control plane exited: {process.Output}");
        }

        while ((await http.GetAsync("/readyz", ct)).StatusCode != System.Net.HttpStatusCode.OK)
        {
            await Task.Delay(100, ct);
        }

        return process;
    }

    /// <summary>SIGKILL: no shutdown at all; its output stays readable.</summary>
    public async Task KillAsync()
    {
        if (_process is null)
        {
            return;
        }

        await _process.DisposeAsync();
        _output += _process.Stdout + _process.Stderr;
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Http.Dispose();
    }
}
