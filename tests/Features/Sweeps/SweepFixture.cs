using Automator67.Tests.Features.Operations;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Sweeps;

/// <summary>
/// <see cref="DeploymentFixture"/> (the control plane, two relays of one account, a bridge network) with sweeps quick
/// enough to watch in a test: both every 2 s, a node Lost after 12 s of silence, orphans removed after 6 s, three
/// crashes in two minutes make a crash loop, restarts after 1 s doubling to 4 s; alert rules evaluated every 2 s.
/// </summary>
public sealed class SweepFixture : IAsyncLifetime
{
    public DeploymentFixture Deployment { get; } = new();

    public ControlPlaneFixture ControlPlane => Deployment.ControlPlane;

    public OperationsClient Client => new(ControlPlane.Http, Deployment.Owner.AccessToken);

    public async ValueTask InitializeAsync()
    {
        var settings = ControlPlane.Settings;
        settings["Sweeps__HealthSeconds"] = "2";
        settings["Sweeps__ReconcileSeconds"] = "2";
        settings["Nodes__LostAfter"] = "00:00:12";
        settings["Sweeps__OrphanGrace"] = "00:00:06";
        settings["Sweeps__MissingGrace"] = "00:00:03";
        settings["Sweeps__CrashLoopCrashes"] = "3";
        settings["Sweeps__CrashLoopWindow"] = "00:02:00";
        settings["Sweeps__RestartFirstDelay"] = "00:00:01";
        settings["Sweeps__RestartMaxDelay"] = "00:00:04";
        settings["Alerts__EvaluationSeconds"] = "2";
        settings["Sweeps__HealRetryDelay"] = "00:00:02";
        await Deployment.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await Deployment.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SweepGroup : ICollectionFixture<SweepFixture>
{
    public const string Name = "sweeps";
}
