using System.Net;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// Cancelling a rolling deploy half-way, on the real parts: the app goes back to the release it ran, with as many
/// replicas as before (one of them already retired, so placed and started again), and nothing of the new release stays.
/// </summary>
[Collection(KillableDeploymentGroup.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DeploymentCancelTests(KillableDeploymentFixture fixture)
{
    [Fact]
    public async Task Cancel_MidRollout_EndsCancelled_BackOnRelease1AnsweringV1_WithNoV2ContainerLeft()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("cancel", ct);
        await api.DeployedAsync(app, OperationsClient.Spec("v1", 2), () => fixture.ControlPlane.Output, ct);

        // v2 answers 404 on its health path, so it stays in the health step for ten probes; with max unavailable 1 and
        // no surge, a v1 replica goes first to make room for it.
        var rollout = await api.DeployAsync(app, OperationsClient.Spec("v2", 2, healthPath: "/missing", maxSurge: 0, maxUnavailable: 1, retries: 10), ct);
        await api.ReplicasWhenAsync(app, rs => rs.Count(r => r.GetProperty("release").GetInt32() == 1) == 1
            && rs.Any(r => r.GetProperty("release").GetInt32() == 2 && r.GetProperty("lastError").ValueKind == JsonValueKind.String), ct);

        using (var cancel = await api.SendAsync(HttpMethod.Post, $"/api/operations/{rollout}/cancel"))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        var done = await api.FinishedAsync(rollout, () => fixture.ControlPlane.Output, ct);
        Assert.Equal("Cancelled", done.GetProperty("status").GetString());
        Assert.Equal("cancelled on request", done.GetProperty("reason").GetString());
        var history = done.GetProperty("history").EnumerateArray().ToList();
        Assert.Single(history, h => h.GetProperty("type").GetString() == "cancel-requested");
        Assert.Equal("cancelled; the app is back where it was", history[^1].GetProperty("message").GetString());
        OperationsClient.AssertNoStepDoneTwice(done);

        var replicas = await api.ReplicasAsync(app, ct);
        Assert.Equal(2, replicas.Count);
        foreach (var replica in replicas)
        {
            Assert.True(OperationsClient.Is(replica, 1, "Healthy"), $"{replica}");
            Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
        }

        await fixture.AssertContainersAsync(app, release: 1, count: 2, ct);
        await using var current = fixture.ControlPlane.Database.DataSource.CreateCommand(
            "SELECT r.number, a.replicas FROM a67.apps a JOIN a67.releases r ON r.id = a.current_release_id WHERE a.id = @app");
        current.Parameters.AddWithValue("app", app);
        await using var row = await current.ExecuteReaderAsync(ct);
        Assert.True(await row.ReadAsync(ct));
        Assert.Equal((1, 2), (row.GetInt32(0), row.GetInt32(1)));
    }
}
