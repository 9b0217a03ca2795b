using System.Text.Json;
using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Audit;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Nodes;

public sealed record Node(Guid Id, Guid AccountId, string Name, IReadOnlyDictionary<string, string> Labels, byte[] PublicKey, HostFacts Facts,
    bool Draining, DateTimeOffset EnrolledAt, DateTimeOffset CredentialExpiresAt, DateTimeOffset? LastHeartbeatAt)
{
    /// <summary>The command path: when a ping was last sent, since when one has gone unanswered, the last answered one.</summary>
    public NodeCommandPath CommandPath { get; init; } = new(null, null, null, null);

    /// <summary>What the health sweep found: silent since, declared lost at, and the node's own grace before Lost (null: the setting).</summary>
    public NodeSilence Silence { get; init; } = new(null, null, null);
}

public sealed record NodeSilence(DateTimeOffset? UnreachableAt, DateTimeOffset? LostAt, int? LostAfterSeconds);

public sealed record NodeCommandPath(DateTimeOffset? LastPingSentAt, DateTimeOffset? PingOutstandingSince, DateTimeOffset? LastPingOkAt, int? LatencyMs);

/// <summary>The labelled containers of a node's latest complete heartbeat.</summary>
public sealed record NodeInventory(DateTimeOffset SentAt, DateTimeOffset ReceivedAt, IReadOnlyList<ContainerReport> Containers);

/// <summary>What presenting a join token led to.</summary>
public abstract record EnrollOutcome
{
    public sealed record Enrolled(Node Node) : EnrollOutcome;

    public sealed record Refused(string Reason) : EnrollOutcome;
}

/// <summary>The nodes and join-tokens tables. Every read and change is scoped to one account.</summary>
public sealed class NodeStore(NpgsqlDataSource dataSource, AuditLog audit, IOptions<NodeOptions> options, TimeProvider time)
{
    public const string JoinTokenPrefix = "a67_join_";
    const string Columns = "id, account_id, name, labels::text, public_key, facts::text, draining, enrolled_at, credential_expires_at, last_heartbeat_at, " +
        "last_ping_sent_at, ping_outstanding_since, last_ping_ok_at, command_latency_ms, unreachable_at, lost_at, lost_after_seconds";

    public async Task<(string Token, DateTimeOffset ExpiresAt)> CreateJoinTokenAsync(Guid accountId, string? name, IReadOnlyDictionary<string, string> labels,
        TimeSpan? lifetime, AuditEvent created, CancellationToken ct)
    {
        var (token, hash) = OpaqueTokens.Create(JoinTokenPrefix);
        var expires = time.GetUtcNow() + (lifetime ?? options.Value.JoinTokenLifetime);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO a67.join_tokens (token_hash, account_id, name, labels, created_at, expires_at)
            VALUES (@hash, @account, @name, @labels, @now, @expires)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("hash", hash);
            insert.Parameters.AddWithValue("account", accountId);
            insert.Parameters.AddWithValue("name", (object?)name ?? DBNull.Value);
            insert.Parameters.Add(Jsonb("labels", labels));
            insert.Parameters.AddWithValue("now", time.GetUtcNow());
            insert.Parameters.AddWithValue("expires", expires);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await audit.WriteAsync(connection, transaction, created with { Detail = new Dictionary<string, object?> { ["expiresAt"] = expires, ["name"] = name } }, ct);
        await transaction.CommitAsync(ct);
        return (token, expires);
    }

    /// <summary>
    /// Spends a join token on a new node, in one transaction with the token's row locked so it enrols one node only.
    /// <paramref name="issueCredentials"/> runs before the commit: a node never exists without its queue.
    /// </summary>
    public async Task<EnrollOutcome> EnrollAsync(string joinToken, byte[] publicKey, byte[]? sealingKey, HostFacts facts, DateTimeOffset credentialExpiresAt,
        Func<Guid, Task> issueCredentials, AuditEvent enrolled, CancellationToken ct)
    {
        if (!joinToken.StartsWith(JoinTokenPrefix, StringComparison.Ordinal) || joinToken.Length > 100)
        {
            return new EnrollOutcome.Refused("the join token is not one this instance issued");
        }

        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var find = new NpgsqlCommand(
            "SELECT account_id, name, labels::text, expires_at, used_at FROM a67.join_tokens WHERE token_hash = @hash FOR UPDATE", connection, transaction);
        find.Parameters.AddWithValue("hash", OpaqueTokens.Hash(joinToken));
        Guid accountId;
        string? name;
        Dictionary<string, string> labels;
        await using (var reader = await find.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return new EnrollOutcome.Refused("the join token is not one this instance issued");
            }

            if (!reader.IsDBNull(4))
            {
                return new EnrollOutcome.Refused("the join token has been used already; create a new one");
            }

            if (reader.GetFieldValue<DateTimeOffset>(3) <= now)
            {
                return new EnrollOutcome.Refused("the join token has expired; create a new one");
            }

            accountId = reader.GetGuid(0);
            name = reader.IsDBNull(1) ? null : reader.GetString(1);
            labels = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(2))!;
        }

        var node = new Node(Guid.CreateVersion7(), accountId, await FreeNameAsync(connection, transaction, accountId, name ?? facts.Hostname, ct),
            labels, publicKey, facts, false, now, credentialExpiresAt, null);
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO a67.nodes (id, account_id, name, labels, public_key, sealing_key, facts, enrolled_at, credential_expires_at)
            VALUES (@id, @account, @name, @labels, @key, @sealing, @facts, @now, @expires);
            UPDATE a67.join_tokens SET used_at = @now, node_id = @id WHERE token_hash = @hash;
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", node.Id);
            insert.Parameters.AddWithValue("account", accountId);
            insert.Parameters.AddWithValue("name", node.Name);
            insert.Parameters.Add(Jsonb("labels", labels));
            insert.Parameters.AddWithValue("key", publicKey);
            insert.Parameters.Add(new NpgsqlParameter("sealing", NpgsqlDbType.Bytea) { Value = (object?)sealingKey ?? DBNull.Value });
            insert.Parameters.Add(Jsonb("facts", facts));
            insert.Parameters.AddWithValue("now", now);
            insert.Parameters.AddWithValue("expires", credentialExpiresAt);
            insert.Parameters.AddWithValue("hash", OpaqueTokens.Hash(joinToken));
            await insert.ExecuteNonQueryAsync(ct);
        }

        await issueCredentials(node.Id);
        await audit.WriteAsync(connection, transaction, enrolled with
        {
            AccountId = accountId,
            Detail = new Dictionary<string, object?> { ["nodeId"] = node.Id, ["name"] = node.Name, ["hostname"] = facts.Hostname },
        }, ct);
        await transaction.CommitAsync(ct);
        return new EnrollOutcome.Enrolled(node);
    }

    public async Task<IReadOnlyList<Node>> ListAsync(Guid accountId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.nodes WHERE account_id = @account ORDER BY name");
        command.Parameters.AddWithValue("account", accountId);
        return await ReadAllAsync(command, ct);
    }

    public async Task<Node?> FindAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.nodes WHERE account_id = @account AND id = @id");
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("id", id);
        return (await ReadAllAsync(command, ct)).SingleOrDefault();
    }

    /// <summary>Any account's node, for the relay's own requests (which speak for a node, not for an account).</summary>
    public async Task<Node?> FindEnrolledAsync(Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.nodes WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        return (await ReadAllAsync(command, ct)).SingleOrDefault();
    }

    public async Task<NodeInventory?> FindInventoryAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT i.sent_at, i.received_at, i.containers::text FROM a67.node_inventory i JOIN a67.nodes n ON n.id = i.node_id
            WHERE n.account_id = @account AND n.id = @id
            """);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new NodeInventory(reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1),
                JsonSerializer.Deserialize(reader.GetString(2), RelayJsonContext.Default.IReadOnlyListContainerReport) ?? [])
            : null;
    }

    /// <summary>
    /// Extends a node's credentials when <paramref name="requestedAt"/> is newer than its last renewal (a replayed
    /// request changes nothing); <paramref name="issueCredentials"/> runs with the node's row locked, so a concurrent
    /// delete cannot leave a revoked node with a fresh queue. False when the node is gone or the request is not newer.
    /// </summary>
    public async Task<bool> RenewCredentialsAsync(Guid id, DateTimeOffset requestedAt, DateTimeOffset expiresAt, byte[]? sealingKey, Func<Task> issueCredentials,
        AuditEvent renewed, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var update = new NpgsqlCommand("""
            UPDATE a67.nodes SET credential_expires_at = @expires, last_renewal_requested_at = @requested, sealing_key = coalesce(@sealing, sealing_key)
            WHERE id = @id AND (last_renewal_requested_at IS NULL OR last_renewal_requested_at < @requested)
            RETURNING account_id
            """, connection, transaction);
        update.Parameters.Add(new NpgsqlParameter("sealing", NpgsqlDbType.Bytea) { Value = (object?)sealingKey ?? DBNull.Value });
        update.Parameters.AddWithValue("id", id);
        update.Parameters.AddWithValue("expires", expiresAt);
        update.Parameters.AddWithValue("requested", requestedAt);
        if (await update.ExecuteScalarAsync(ct) is not Guid accountId)
        {
            return false;
        }

        await issueCredentials();
        await audit.WriteAsync(connection, transaction, renewed with
        {
            AccountId = accountId,
            Detail = new Dictionary<string, object?> { ["nodeId"] = id, ["expiresAt"] = expiresAt, ["sealingKey"] = sealingKey is null ? null : "registered" },
        }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Renames and/or relabels; null when there is no such node, throws <see cref="PostgresException"/> 23505 on a taken name.</summary>
    /// <summary>Changes what is given (null leaves a field); <c>lostAfterSeconds</c> 0 goes back to the setting.</summary>
    public async Task<Node?> UpdateAsync(Guid accountId, Guid id, string? name, IReadOnlyDictionary<string, string>? labels, bool? draining, CancellationToken ct,
        int? lostAfterSeconds = null)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE a67.nodes SET name = coalesce(@name, name), labels = coalesce(@labels, labels), draining = coalesce(@draining, draining),
                lost_after_seconds = CASE WHEN @lostAfter IS NULL THEN lost_after_seconds WHEN @lostAfter = 0 THEN NULL ELSE @lostAfter END
            WHERE account_id = @account AND id = @id RETURNING {Columns}
            """);
        command.Parameters.Add(new NpgsqlParameter("lostAfter", NpgsqlDbType.Integer) { Value = (object?)lostAfterSeconds ?? DBNull.Value });
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = (object?)name ?? DBNull.Value });
        command.Parameters.Add(labels is null ? new NpgsqlParameter("labels", NpgsqlDbType.Jsonb) { Value = DBNull.Value } : Jsonb("labels", labels));
        command.Parameters.Add(new NpgsqlParameter("draining", NpgsqlDbType.Boolean) { Value = (object?)draining ?? DBNull.Value });
        return (await ReadAllAsync(command, ct)).SingleOrDefault();
    }

    public async Task<bool> DeleteAsync(Guid accountId, Guid id, AuditEvent deleted, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var delete = new NpgsqlCommand("DELETE FROM a67.nodes WHERE account_id = @account AND id = @id", connection, transaction);
        delete.Parameters.AddWithValue("account", accountId);
        delete.Parameters.AddWithValue("id", id);
        if (await delete.ExecuteNonQueryAsync(ct) == 0)
        {
            return false;
        }

        await audit.WriteAsync(connection, transaction, deleted with { Detail = new Dictionary<string, object?> { ["nodeId"] = id } }, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    // A hostname need not be a valid node name, and two hosts may share one: make it one, and unique in the account.
    static async Task<string> FreeNameAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, string wanted, CancellationToken ct)
    {
        var stem = new string([.. wanted.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-')]).TrimStart('.', '_', '-');
        stem = string.IsNullOrEmpty(stem) ? "node" : stem[..Math.Min(stem.Length, 55)];
        await using var taken = new NpgsqlCommand("SELECT name FROM a67.nodes WHERE account_id = @account AND (name = @stem OR name LIKE @stem || '-%')", connection, transaction);
        taken.Parameters.AddWithValue("account", accountId);
        taken.Parameters.AddWithValue("stem", stem);
        var names = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await taken.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                names.Add(reader.GetString(0));
            }
        }

        var candidate = stem;
        for (var n = 2; names.Contains(candidate); n++)
        {
            candidate = $"{stem}-{n}";
        }

        return candidate;
    }

    static async Task<IReadOnlyList<Node>> ReadAllAsync(NpgsqlCommand command, CancellationToken ct)
    {
        var nodes = new List<Node>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            nodes.Add(new Node(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2),
                JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(3))!,
                reader.GetFieldValue<byte[]>(4),
                JsonSerializer.Deserialize<HostFacts>(reader.GetString(5), JsonSerializerOptions.Web)!,
                reader.GetBoolean(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9))
            {
                CommandPath = new NodeCommandPath(Time(reader, 10), Time(reader, 11), Time(reader, 12), reader.IsDBNull(13) ? null : reader.GetInt32(13)),
                Silence = new NodeSilence(Time(reader, 14), Time(reader, 15), reader.IsDBNull(16) ? null : reader.GetInt32(16)),
            });
        }

        return nodes;
    }

    static DateTimeOffset? Time(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetFieldValue<DateTimeOffset>(column);

    static NpgsqlParameter Jsonb<T>(string name, T value) =>
        new(name, NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(value, JsonSerializerOptions.Web) };


}
