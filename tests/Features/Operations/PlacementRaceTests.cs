using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Automator67.Functions.Features.Operations;
using Automator67.Tests.Infrastructure;
using Npgsql;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// Two apps' placements racing for the last room on the nodes, on the real parts. The race is made deterministic: the
/// test plays the other placement — it holds the account's placement lock while its own, not yet committed, replicas
/// take a fixed host port on both nodes — so the deploy reads the room before they exist and checks it after.
/// </summary>
[Collection(KillableDeploymentGroup.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PlacementRaceTests(KillableDeploymentFixture fixture)
{
    [Fact]
    public async Task APlacementThatLostTheRoomToAnotherApp_IsDoneAgainUnderTheLock_AndNeverDoublesAHostPort()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        var api = fixture.Client;
        var port = FreeTcpPort();
        var ports = new[] { new { containerPort = 8080, hostPort = port } };

        // The other app: a release that wants the host port, with no replica of its own yet.
        var other = await api.CreateAppAsync("holder", ct);
        await api.DeployedAsync(other, With(OperationsClient.Spec("v1", 0), ports), () => fixture.ControlPlane.Output, ct);

        var db = fixture.ControlPlane.Database.DataSource;
        Guid[] holders;
        await using (var connection = await db.OpenConnectionAsync(ct))
        await using (var placing = await connection.BeginTransactionAsync(ct))
        {
            await OperationEngine.LockPlacementAsync(connection, placing, fixture.Deployment.Owner.AccountId, ct);
            holders = await InsertHoldersAsync(connection, placing, other, ct);

            var app = await api.CreateAppAsync("racer", ct);
            var deploy = await api.DeployAsync(app, With(OperationsClient.Spec("v1", 1), ports), ct);
            await WaitForAdvisoryLockWaiterAsync(db, ct);
            await placing.CommitAsync(ct);

            // The deploy saw both nodes free, placed, found the port taken once it held the lock, and placed again: now
            // it sees no room. The holder lets go at once (the placement has two more tries, a second or so apart).
            var failed = await HistoryWhenAsync(api, deploy, h => h.Any(e => e.Contains("placement failed", StringComparison.Ordinal)), ct);
            await AssertNoHostPortTwiceAsync(db, port, ct);
            await using (var release = db.CreateCommand("UPDATE a67.replicas SET state = 'Removed' WHERE id = ANY(@ids)"))
            {
                release.Parameters.AddWithValue("ids", holders);
                await release.ExecuteNonQueryAsync(ct);
            }

            Assert.Contains(failed, e => e.Contains($"host port {port}/tcp is taken on every eligible node", StringComparison.Ordinal));
            Assert.DoesNotContain(failed, e => e.StartsWith("step-started: placed replica", StringComparison.Ordinal));
            Assert.Contains("another placement took the room on", fixture.ControlPlane.Output, StringComparison.Ordinal);

            // The deploy's placement retry finds the port free, and the replica answers on it.

            var done = await api.FinishedAsync(deploy, () => fixture.ControlPlane.Output, ct);
            Assert.Equal("Succeeded", done.GetProperty("status").GetString());
            var replica = Assert.Single(await api.ReplicasAsync(app, ct));
            Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);
            await AssertNoHostPortTwiceAsync(db, port, ct);
            using var remove = await api.SendAsync(HttpMethod.Delete, $"/api/apps/{app}");
            Assert.Equal(HttpStatusCode.Accepted, remove.StatusCode);
        }
    }

    static System.Text.Json.Nodes.JsonObject With(object spec, object ports)
    {
        var json = JsonSerializer.SerializeToNode(spec)!.AsObject();
        json["ports"] = JsonSerializer.SerializeToNode(ports);
        return json;
    }

    /// <summary>Replicas of the other app's release on every node of the account, holding its host port (no containers: rows only).</summary>
    async Task<Guid[]> InsertHoldersAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid app, CancellationToken ct)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.replicas (id, app_id, release_id, slot, node_id, generation, state, attempts, probe_failures, ports, created_at, updated_at)
            SELECT gen_random_uuid(), a.id, a.current_release_id, row_number() OVER (ORDER BY n.name) - 1, n.id, nextval('a67.replica_generations'),
                   'Healthy', 0, 0, '[]', now(), now()
            FROM a67.apps a JOIN a67.nodes n ON n.account_id = a.account_id
            WHERE a.id = @app
            RETURNING id
            """, connection, transaction);
        insert.Parameters.AddWithValue("app", app);
        var ids = new List<Guid>();
        await using var reader = await insert.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            ids.Add(reader.GetGuid(0));
        }

        Assert.Equal(fixture.Deployment.Relays.Count, ids.Count);
        return [.. ids];
    }

    static async Task WaitForAdvisoryLockWaiterAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(20);
        while (true)
        {
            Assert.True(DateTimeOffset.UtcNow < until, "the deploy never waited for the account's placement lock: it placed without checking the room under it");
            await using var waiting = db.CreateCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
            if ((long)(await waiting.ExecuteScalarAsync(ct))! > 0)
            {
                return;
            }

            await Task.Delay(50, ct);
        }
    }

    static async Task<List<string>> HistoryWhenAsync(OperationsClient api, Guid operation, Func<List<string>, bool> done, CancellationToken ct)
    {
        while (true)
        {
            var history = (await api.OperationAsync(operation, ct)).GetProperty("history").EnumerateArray()
                .Select(h => $"{h.GetProperty("type").GetString()}: {h.GetProperty("message").GetString()}").ToList();
            if (done(history))
            {
                return history;
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>No node has two live replicas that publish <paramref name="port"/>.</summary>
    static async Task AssertNoHostPortTwiceAsync(NpgsqlDataSource db, int port, CancellationToken ct)
    {
        await using var doubled = db.CreateCommand("""
            SELECT count(*) FROM (
                SELECT r.node_id FROM a67.replicas r JOIN a67.releases rel ON rel.id = r.release_id
                CROSS JOIN LATERAL jsonb_array_elements(rel.spec->'ports') p
                WHERE r.state NOT IN ('Removed', 'Failed') AND (p->>'hostPort')::int = @port
                GROUP BY r.node_id HAVING count(*) > 1) d
            """);
        doubled.Parameters.AddWithValue("port", port);
        Assert.Equal(0L, (long)(await doubled.ExecuteScalarAsync(ct))!);
    }

    static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
