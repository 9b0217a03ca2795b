using System.Text.Json;
using Automator67.Contracts.Relay;
using Npgsql;

namespace Automator67.Functions.Features.Operations;

/// <summary>One replica as <c>GET /api/apps/{id}/replicas</c> shows it.</summary>
public sealed record ReplicaView(Guid Id, int Release, int Slot, Guid NodeId, string NodeName, long Generation, string State, string? ContainerId,
    IReadOnlyList<PortBinding> Ports, DateTimeOffset? StartedAt, DateTimeOffset? HealthyAt, string? LastError);

/// <summary>The replicas the control plane placed for an app and where each stands (removed ones are left out).</summary>
public sealed class ReplicaQueries(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<ReplicaView>> ListAsync(Guid appId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT r.id, rel.number, r.slot, r.node_id, n.name, r.generation, r.state, r.container_id, r.ports::text, r.started_at, r.healthy_at, r.last_error
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
                reader.IsDBNull(11) ? null : reader.GetString(11)));
        }

        return views;
    }
}
