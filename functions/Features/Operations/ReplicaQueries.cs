using System.Text.Json;
using Automator67.Contracts.Relay;
using Npgsql;

namespace Automator67.Functions.Features.Operations;

/// <summary>One replica as <c>GET /api/apps/{id}/replicas</c> shows it.</summary>
public sealed record ReplicaView(Guid Id, int Release, int Slot, Guid NodeId, string NodeName, long Generation, string State, string? ContainerId,
    IReadOnlyList<PortBinding> Ports, DateTimeOffset? StartedAt, DateTimeOffset? HealthyAt, string? LastError, int Crashes = 0, DateTimeOffset? CrashLoopingAt = null);

/// <summary>What an app should run and what runs, as <c>GET /api/apps/{id}</c> shows it.</summary>
/// <param name="CurrentRelease">The release the app runs (after its last successful operation); null before the first.</param>
/// <param name="DesiredReplicas">Replicas of the current release it should have.</param>
/// <param name="Stopped">Stopped on request (POST …/stop).</param>
/// <param name="ActiveOperation">The operation under way, if any.</param>
/// <param name="Releases">Per release with live replicas: how many, how many running (started) and healthy, per node.</param>
public sealed record AppRuntimeView(int? CurrentRelease, int DesiredReplicas, bool Stopped, ActiveOperationView? ActiveOperation, IReadOnlyList<ReleaseReplicasView> Releases);

public sealed record ActiveOperationView(Guid Id, string Kind, string Status, string Step);

public sealed record ReleaseReplicasView(int Release, int Desired, int Replicas, int Running, int Healthy, IReadOnlyList<NodeReplicasView> Nodes);

public sealed record NodeReplicasView(Guid NodeId, string NodeName, int Replicas, int Running, int Healthy);

/// <summary>The replicas the control plane placed for an app and where each stands (removed ones are left out).</summary>
public sealed class ReplicaQueries(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<ReplicaView>> ListAsync(Guid appId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT r.id, rel.number, r.slot, r.node_id, n.name, r.generation, r.state, r.container_id, r.ports::text, r.started_at, r.healthy_at, r.last_error,
                   r.crashes, r.crash_looping_at
            FROM a67.replicas r JOIN a67.releases rel ON rel.id = r.release_id JOIN a67.nodes n ON n.id = r.node_id
            WHERE r.app_id = @app AND r.state NOT IN ('Removed', 'Failed')
            ORDER BY rel.number DESC, r.slot
            """);
        command.Parameters.AddWithValue("app", appId);
        var views = new List<ReplicaView>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            views.Add(new ReplicaView(reader.GetGuid(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetGuid(3), reader.GetString(4), reader.GetInt64(5), reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                JsonSerializer.Deserialize(reader.GetString(8), RelayJsonContext.Default.IReadOnlyListPortBinding) ?? [],
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetString(11), reader.GetInt32(12), reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13)));
        }

        return views;
    }

    /// <summary>
    /// Desired against actual, as far as the control plane knows from the results of its own commands and what the
    /// reconcile sweep found in the relays' inventories (crashes, crash loops, containers gone).
    /// </summary>
    public async Task<AppRuntimeView> RuntimeAsync(Guid appId, CancellationToken ct)
    {
        int? current = null;
        var (desired, stopped) = (0, false);
        ActiveOperationView? active = null;
        await using (var command = dataSource.CreateCommand("""
            SELECT r.number, a.replicas, a.stopped, o.id, o.kind, o.status, o.step
            FROM a67.apps a
            LEFT JOIN a67.releases r ON r.id = a.current_release_id
            LEFT JOIN a67.operations o ON o.app_id = a.id AND o.status IN ('Pending', 'Running', 'RollingBack')
            WHERE a.id = @app
            """))
        {
            command.Parameters.AddWithValue("app", appId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                current = reader.IsDBNull(0) ? null : reader.GetInt32(0);
                (desired, stopped) = (reader.GetInt32(1), reader.GetBoolean(2));
                active = reader.IsDBNull(3) ? null : new ActiveOperationView(reader.GetGuid(3), reader.GetString(4), reader.GetString(5), reader.GetString(6));
            }
        }

        var replicas = await ListAsync(appId, ct);
        var releases = replicas.GroupBy(r => r.Release).OrderByDescending(g => g.Key).Select(release => new ReleaseReplicasView(
            release.Key,
            release.Key == current ? desired : 0,
            release.Count(),
            release.Count(IsRunning),
            release.Count(r => r.State == ReplicaStates.Healthy),
            [.. release.GroupBy(r => (r.NodeId, r.NodeName)).OrderBy(g => g.Key.NodeName, StringComparer.Ordinal).Select(node => new NodeReplicasView(
                node.Key.NodeId, node.Key.NodeName, node.Count(), node.Count(IsRunning), node.Count(r => r.State == ReplicaStates.Healthy)))])).ToList();
        return new AppRuntimeView(current, desired, stopped, active, releases);

        static bool IsRunning(ReplicaView r) => r.State is ReplicaStates.Started or ReplicaStates.Probing or ReplicaStates.Healthy or ReplicaStates.Restarting;
    }
}
