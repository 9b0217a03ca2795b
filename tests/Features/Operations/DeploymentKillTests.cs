using System.Text.RegularExpressions;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>Tests sharing one <see cref="KillableDeploymentFixture"/>, one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class KillableDeploymentGroup : ICollectionFixture<KillableDeploymentFixture>
{
    public const string Name = "deployments with control planes that get killed";
}

/// <summary>
/// A control-plane process SIGKILLed in the middle of a rolling deploy: started again, or with a second process
/// beside it, the deploy finishes, with exactly one container per replica slot on the Engine and no step done twice.
/// </summary>
[Collection(KillableDeploymentGroup.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class DeploymentKillTests(KillableDeploymentFixture fixture)
{
    ControlPlaneFixture ControlPlane => fixture.ControlPlane;

    [Fact]
    public async Task Deploy_Succeeds_WithOneContainerPerSlot_WhenTheControlPlaneIsKilledMidRolloutAndStartedAgain()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(120));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("killed", ct);
        await api.DeployedAsync(app, OperationsClient.Spec("v1", 3), () => ControlPlane.Output, ct);

        var rollout = await api.DeployAsync(app, OperationsClient.Spec("v2", 3), ct);
        await api.ReplicasWhenAsync(app, rs => rs.Count(r => OperationsClient.Is(r, 2, "Healthy")) is >= 1 and < 3, ct);
        var outputBefore = ControlPlane.Output.Length;
        await ControlPlane.KillAsync();
        try
        {
            // The relays finish what they were asked meanwhile: their results wait in the queue.
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
        finally
        {
            await ControlPlane.StartAsync();
        }

        var done = await api.FinishedAsync(rollout, () => ControlPlane.Output, ct);
        Assert.Equal("Succeeded", done.GetProperty("status").GetString());
        await fixture.AssertContainersAsync(app, release: 2, count: 3, ct);
        var replicas = await api.ReplicasAsync(app, ct);
        Assert.Equal(3, replicas.Count);
        foreach (var replica in replicas)
        {
            Assert.True(OperationsClient.Is(replica, 2, "Healthy"), $"{replica}");
            Assert.Contains("automator67 sample v2", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        OperationsClient.AssertNoStepDoneTwice(done);
        var after = ControlPlane.Output[outputBefore..];
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"after the restart: {Advanced().Count(after)} advance log line(s), {Recovered().Count(after)} recovery log line(s)");
    }

    [Fact]
    public async Task Deploy_IsFinishedByTheOtherProcess_WhenOneOfTwoControlPlanesIsKilledMidRollout()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(120));
        await using var second = await fixture.StartControlPlaneAsync(ct);
        // Requests go to the second process; both take Hangfire jobs and relay events of the shared database and queues.
        var api = second.Client;
        var app = await api.CreateAppAsync("two", ct);
        var first = await api.DeployAsync(app, OperationsClient.Spec("v1", 3), ct);
        var deployed = await api.FinishedAsync(first, () => second.Output, ct);
        Assert.Equal("Succeeded", deployed.GetProperty("status").GetString());

        var rollout = await api.DeployAsync(app, OperationsClient.Spec("v2", 3), ct);
        await api.ReplicasWhenAsync(app, rs => rs.Count(r => OperationsClient.Is(r, 2, "Healthy")) is >= 1 and < 3, ct);
        var survivorBefore = ControlPlane.Output.Length;
        await second.KillAsync();

        var survivor = fixture.Client;
        var done = await survivor.FinishedAsync(rollout, () => ControlPlane.Output + "\n--- killed process ---\n" + second.Output, ct);
        Assert.Equal("Succeeded", done.GetProperty("status").GetString());
        await fixture.AssertContainersAsync(app, release: 2, count: 3, ct);
        var replicas = await survivor.ReplicasAsync(app, ct);
        Assert.Equal(3, replicas.Count);
        foreach (var replica in replicas)
        {
            Assert.True(OperationsClient.Is(replica, 2, "Healthy"), $"{replica}");
            Assert.Contains("automator67 sample v2", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        OperationsClient.AssertNoStepDoneTwice(await survivor.OperationAsync(first, ct));
        OperationsClient.AssertNoStepDoneTwice(done);
        var afterKill = ControlPlane.Output[survivorBefore..];
        Assert.True(Advanced().Count(afterKill) > 0, "the surviving process logged no advance after the kill");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"advance log lines: killed process {Advanced().Count(second.Output)}, survivor {Advanced().Count(ControlPlane.Output)} "
            + $"({Advanced().Count(afterKill)} after the kill); recovery log lines after the kill: {Recovered().Count(afterKill)}");
    }

    // OperationEngine's and OperationJobs' log events (ids 1700 and 1710).
    [GeneratedRegex(@"OperationEngine\[1700\]")]
    private static partial Regex Advanced();

    [GeneratedRegex(@"OperationJobs\[1710\]")]
    private static partial Regex Recovered();
}
