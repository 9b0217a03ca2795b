using System.Net;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <c>POST /api/operations/{id}/retry</c> on the real parts. The Failed state is written by the test, exactly as the
/// machine leaves it when an image pull fails on the way back (ConvergeMachineFailureTests shows that state): the
/// local registry cannot be made to refuse one image for one test.
/// </summary>
[Collection(KillableDeploymentGroup.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class OperationRetryTests(KillableDeploymentFixture fixture)
{
    [Fact]
    public async Task Retry_OfARollbackWhosePullFailed_PullsAgain_AndRollsBack()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var api = fixture.Client;
        var app = await api.CreateAppAsync("retry", ct);
        await api.DeployedAsync(app, OperationsClient.Spec("v1", 1), () => fixture.ControlPlane.Output, ct);
        var rollout = await api.DeployAsync(app, OperationsClient.Spec("v2", 1), ct);
        Assert.Equal("Succeeded", (await api.FinishedAsync(rollout, () => fixture.ControlPlane.Output, ct)).GetProperty("status").GetString());

        // Rolling back to release 1 failed: its replica was placed on a node whose pull of v1 failed MaxAttempts times.
        var node = fixture.Deployment.Relays[0].NodeId;
        await using (var failed = fixture.ControlPlane.Database.DataSource.CreateCommand("""
            WITH one AS (SELECT id FROM a67.releases WHERE app_id = @app AND number = 1),
            op AS (UPDATE a67.operations SET status = 'Failed', target_release_id = (SELECT id FROM one), target_replicas = 1, step = 'pull',
                       reason = 'replica 0 of release 2 did not become healthy; rolling back failed too: pulling v1 failed 3 times: manifest unknown',
                       finished_at = now(), wake_at = NULL
                   WHERE id = @op RETURNING id),
            replica AS (INSERT INTO a67.replicas (id, app_id, release_id, slot, node_id, generation, state, operation_id, created_at, updated_at)
                        SELECT gen_random_uuid(), @app, one.id, 0, @node, nextval('a67.replica_generations'), 'Placed', @op, now(), now() FROM one RETURNING id)
            INSERT INTO a67.operation_pulls (operation_id, release_id, node_id, state, attempts, last_error)
            SELECT @op, one.id, @node, 'Failed', 3, 'manifest unknown' FROM one
            """))
        {
            failed.Parameters.AddWithValue("app", app);
            failed.Parameters.AddWithValue("op", rollout);
            failed.Parameters.AddWithValue("node", node);
            Assert.Equal(1, await failed.ExecuteNonQueryAsync(ct));
        }

        using (var retry = await api.SendAsync(HttpMethod.Post, $"/api/operations/{rollout}/retry"))
        {
            Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        }

        var done = await api.FinishedAsync(rollout, () => fixture.ControlPlane.Output, ct);
        Assert.Equal("RolledBack", done.GetProperty("status").GetString());
        var history = done.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("message").GetString()!).ToList();
        var retried = history.FindIndex(m => m.StartsWith("retried on request", StringComparison.Ordinal));
        Assert.Contains(history.Skip(retried), m => m.StartsWith("pull ", StringComparison.Ordinal) && m.EndsWith("(attempt 1)", StringComparison.Ordinal));

        var replica = Assert.Single(await api.ReplicasAsync(app, ct));
        Assert.True(OperationsClient.Is(replica, 1, "Healthy"), $"{replica}");
        Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
        await fixture.AssertContainersAsync(app, release: 1, count: 1, ct);
    }
}
