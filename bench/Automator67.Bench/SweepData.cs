using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Bench;

/// <summary>
/// The sweeps' synthetic fleet, written straight into the run's database (migrated by the control plane): 10,000
/// nodes over 20 accounts (binary COPY), 5,000 apps of 10 replicas each with one release, 50,000 Healthy replicas, 5
/// per node, and each node's inventory matching its replicas (multi-row <c>INSERT … SELECT</c> in the database).
/// What the sweeps find to do is fixed by the rows: 1 node in 33 has heartbeats 60 s late (Unreachable), 1 in 1,000
/// is 5 minutes silent (Lost, past the 2-minute grace); 1 replica in 97 has an exited container (crashed), 1 in 1,009
/// has none in its node's inventory (missing), and 1 node in 100 reports a labelled container no replica owns (an
/// orphan). The first <see cref="SignedNodes"/> nodes get key pairs of their own, so heartbeats can be signed for
/// them; the others share one public key.
/// </summary>
public sealed class SweepData : IDisposable
{
    public const int Nodes = 10_000;
    public const int Accounts = 20;
    public const int Apps = 5_000;
    public const int ReplicasPerApp = 10;
    public const int Replicas = Apps * ReplicasPerApp;
    public const int SignedNodes = 2_000;

    static readonly HostFacts Facts = new("bench-host", "linux", "x86_64", 4, 8L << 30, "27.0.0", "1.46");

    SweepData(Guid[] nodeIds, ECDsa[] keys, Guid[] nodeAccounts)
    {
        NodeIds = nodeIds;
        Keys = keys;
        NodeAccounts = nodeAccounts;
    }

    public IReadOnlyList<Guid> NodeIds { get; }

    /// <summary>The private keys of the first <see cref="SignedNodes"/> nodes, in node order.</summary>
    public IReadOnlyList<ECDsa> Keys { get; }

    public IReadOnlyList<Guid> NodeAccounts { get; }

    public static HostFacts HostFacts => Facts;

    public static async Task<SweepData> InsertAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var accounts = Enumerable.Range(0, Accounts).Select(_ => Guid.CreateVersion7()).ToArray();
        var nodeIds = Enumerable.Range(0, Nodes).Select(_ => Guid.CreateVersion7()).ToArray();
        var nodeAccounts = nodeIds.Select((_, n) => accounts[n / ReplicasPerApp % Accounts]).ToArray();
        var keys = Enumerable.Range(0, SignedNodes).Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256)).ToArray();
        using var shared = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var sharedKey = shared.ExportSubjectPublicKeyInfo();

        await using (var insert = db.CreateCommand("""
            INSERT INTO a67.accounts (id, email, created_at) SELECT id, 'sweep-bench-' || ord || '@example.test', now() FROM unnest(@ids) WITH ORDINALITY AS a (id, ord)
            """))
        {
            insert.Parameters.AddWithValue("ids", accounts);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await using (var connection = await db.OpenConnectionAsync(ct))
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY a67.nodes (id, account_id, name, labels, public_key, facts, enrolled_at, credential_expires_at, last_heartbeat_at) FROM STDIN (FORMAT BINARY)", ct))
        {
            var facts = JsonSerializer.Serialize(Facts, JsonSerializerOptions.Web);
            var now = DateTimeOffset.UtcNow;
            for (var n = 0; n < Nodes; n++)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(nodeIds[n], NpgsqlDbType.Uuid, ct);
                await copy.WriteAsync(nodeAccounts[n], NpgsqlDbType.Uuid, ct);
                await copy.WriteAsync($"node-{n:D5}", NpgsqlDbType.Text, ct);
                await copy.WriteAsync($$"""{"sweep-bench":"{{Category(n)}}"}""", NpgsqlDbType.Jsonb, ct);
                await copy.WriteAsync(n < SignedNodes ? keys[n].ExportSubjectPublicKeyInfo() : sharedKey, NpgsqlDbType.Bytea, ct);
                await copy.WriteAsync(facts, NpgsqlDbType.Jsonb, ct);
                await copy.WriteAsync(now.AddDays(-1), NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(now.AddDays(30), NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz, ct);
            }

            await copy.CompleteAsync(ct);
        }

        // Replica j of app a is on node (10a + j) mod 10,000, so each node holds 5 replicas (of 5 apps of its account);
        // its generation is 10a + j + 1, which also picks the anomalies.
        await using (var batch = db.CreateBatch())
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO a67.apps (id, account_id, name, created_at, replicas)
                SELECT gen_random_uuid(), ($1::uuid[])[a % $2 + 1], 'app-' || a, now(), $3 FROM generate_series(0, $4 - 1) a
                """) { Parameters = { new() { Value = accounts }, new() { Value = Accounts }, new() { Value = ReplicasPerApp }, new() { Value = Apps } } });
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO a67.releases (id, app_id, number, spec, created_at, created_by)
                SELECT gen_random_uuid(), id, 1, '{}', now(), account_id FROM a67.apps
                """));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("UPDATE a67.apps a SET current_release_id = r.id FROM a67.releases r WHERE r.app_id = a.id"));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO a67.replicas (id, app_id, release_id, slot, node_id, generation, state, healthy_at, started_at, restart_count_seen, created_at, updated_at)
                SELECT gen_random_uuid(), a.id, a.current_release_id, j, ($1::uuid[])[(10 * i + j) % $2 + 1], 10 * i + j + 1, 'Healthy',
                       now() - interval '1 hour', now() - interval '1 hour', 0, now(), now()
                FROM (SELECT id, current_release_id, substring(name FROM 5)::int AS i FROM a67.apps) a, generate_series(0, $3 - 1) j
                """) { Parameters = { new() { Value = nodeIds }, new() { Value = Nodes }, new() { Value = ReplicasPerApp } } });
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT setval('a67.replica_generations', {Replicas + 1})"));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO a67.node_inventory (node_id, sent_at, received_at, containers)
                SELECT n.id, now(), now(), coalesce(c.containers, '[]')
                    || CASE WHEN (substring(n.name FROM 6)::int) % 100 = 42 THEN jsonb_build_array(jsonb_build_object('id', md5(n.id::text), 'name', 'stray-' || n.name,
                               'app', replace(gen_random_uuid()::text, '-', ''), 'release', '1', 'replica', 0, 'generation', 900000000 + substring(n.name FROM 6)::int,
                               'state', 'running', 'restartCount', 0, 'startedAt', now() - interval '1 hour', 'ports', '[]'::jsonb)) ELSE '[]' END
                FROM a67.nodes n LEFT JOIN (
                    SELECT r.node_id, jsonb_agg(jsonb_build_object('id', md5(r.id::text), 'name', 'a67-' || r.generation, 'app', replace(r.app_id::text, '-', ''),
                               'release', '1', 'replica', r.slot, 'generation', r.generation,
                               'state', CASE WHEN r.generation % 97 = 3 THEN 'exited' ELSE 'running' END,
                               'exitCode', CASE WHEN r.generation % 97 = 3 THEN 1 END, 'restartCount', 0, 'startedAt', r.started_at, 'ports', '[]'::jsonb)) AS containers
                    FROM a67.replicas r WHERE NOT (r.generation % 1009 = 5 AND r.generation % 97 <> 3)
                    GROUP BY r.node_id) c ON c.node_id = n.id
                """));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("ANALYZE"));
            await batch.ExecuteNonQueryAsync(ct);
        }

        return new SweepData(nodeIds, keys, nodeAccounts);
    }

    /// <summary>fresh, late (heartbeats 60 s old: Unreachable) or lost (5 minutes silent: past the grace).</summary>
    static string Category(int n) => n % 1000 == 7 ? "lost" : n % 33 == 1 ? "late" : "fresh";

    public void Dispose()
    {
        foreach (var key in Keys)
        {
            key.Dispose();
        }
    }
}
