using System.Text.Json;
using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Queues;
using Azure;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Relay;

/// <summary>
/// Sends signed commands to relays: each is recorded in <c>a67.relay_commands</c> (Pending) first, then added to its
/// node's queue, so a result can never arrive for a command we do not know. A command whose enqueue failed stays
/// Pending until it expires; its sender retries with a new command (commands are idempotent by design).
/// </summary>
public sealed partial class CommandSender(
    NpgsqlDataSource dataSource,
    QueueServiceClient queues,
    IOptions<QueueOptions> queueOptions,
    CommandSigningKeys keys,
    IOptions<NodeOptions> options,
    TimeProvider time,
    ILogger<CommandSender> logger)
{
    const int EnqueueConcurrency = 16;

    /// <summary>Records, signs and enqueues a batch of commands.</summary>
    public async Task<IReadOnlyList<SignedCommand>> SendAsync(IReadOnlyList<CommandRequest> commands, CancellationToken ct)
    {
        IReadOnlyList<SignedCommand> signed;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            signed = await RecordAsync(connection, transaction, commands, ct);
            await transaction.CommitAsync(ct);
        }

        await EnqueueAsync(signed, ct);
        return signed;
    }

    /// <summary>
    /// Signs the commands and records them inside the caller's transaction (an orchestration step records its commands
    /// with its own progress); call <see cref="EnqueueAsync"/> after the commit. Throws <see cref="ArgumentException"/>
    /// for an unknown kind, a message too large, or a node that does not exist.
    /// </summary>
    public async Task<IReadOnlyList<SignedCommand>> RecordAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<CommandRequest> commands,
        CancellationToken ct)
    {
        if (commands.Count == 0)
        {
            return [];
        }

        var now = time.GetUtcNow();
        var key = keys.Ring.Active;
        var signed = new List<SignedCommand>(commands.Count);
        foreach (var request in commands)
        {
            if (!CommandKinds.All.Contains(request.Kind))
            {
                throw new ArgumentException($"'{request.Kind}' is not a command kind ({string.Join(", ", CommandKinds.All)}).", nameof(commands));
            }

            var envelope = new CommandEnvelope(request.NodeId, Guid.CreateVersion7(now), request.OperationId, now, now + (request.Lifetime ?? options.Value.CommandLifetime),
                request.Kind, request.Body);
            var message = Jws.Sign(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.CommandEnvelope), key.ECDsa, key.KeyId, MessageTypes.Command);
            if (message.Length > Jws.MaxLength)
            {
                throw new ArgumentException($"The {request.Kind} command for node {request.NodeId} is {message.Length} characters signed; the limit is {Jws.MaxLength}.", nameof(commands));
            }

            signed.Add(new SignedCommand(envelope.CommandId, request.NodeId, request.Kind, envelope.ExpiresAt, message));
        }

        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.relay_commands (id, node_id, account_id, kind, operation_id, created_at, expires_at)
            SELECT c.id, n.id, n.account_id, c.kind, c.operation, @now, c.expires
            FROM unnest(@ids, @nodes, @kinds, @operations, @expires) AS c (id, node, kind, operation, expires)
            JOIN a67.nodes n ON n.id = c.node
            """, connection, transaction);
        insert.Parameters.AddWithValue("now", now);
        insert.Parameters.AddWithValue("ids", signed.Select(c => c.CommandId).ToArray());
        insert.Parameters.AddWithValue("nodes", signed.Select(c => c.NodeId).ToArray());
        insert.Parameters.AddWithValue("kinds", signed.Select(c => c.Kind).ToArray());
        insert.Parameters.Add(new NpgsqlParameter("operations", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = commands.Select(c => (object?)c.OperationId ?? DBNull.Value).ToArray() });
        insert.Parameters.AddWithValue("expires", signed.Select(c => c.ExpiresAt).ToArray());
        if (await insert.ExecuteNonQueryAsync(ct) != signed.Count)
        {
            throw new ArgumentException("A command names a node that does not exist (deleted?); nothing was recorded.", nameof(commands));
        }

        return signed;
    }

    /// <summary>
    /// Records a command that could not be built (a secret it needs is gone, say) as failed at once, in the caller's
    /// transaction, with <paramref name="error"/> as its result; it is never signed nor sent. Returns its id.
    /// </summary>
    public async Task<Guid> RecordUnsentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CommandRequest request, string error, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        var result = new CommandResult(id, request.OperationId, request.Kind, ResultStatuses.Failed, error, null, 0);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO a67.relay_commands (id, node_id, account_id, kind, operation_id, created_at, expires_at, status, result, completed_at)
            SELECT @id, n.id, n.account_id, @kind, @operation, @now, @now, 'Failed', @result::jsonb, @now FROM a67.nodes n WHERE n.id = @node
            """, connection, transaction);
        insert.Parameters.AddWithValue("id", id);
        insert.Parameters.AddWithValue("node", request.NodeId);
        insert.Parameters.AddWithValue("kind", request.Kind);
        insert.Parameters.Add(new NpgsqlParameter("operation", NpgsqlDbType.Uuid) { Value = (object?)request.OperationId ?? DBNull.Value });
        insert.Parameters.AddWithValue("now", now);
        insert.Parameters.AddWithValue("result", JsonSerializer.Serialize(result, RelayJsonContext.Default.CommandResult));
        if (await insert.ExecuteNonQueryAsync(ct) != 1)
        {
            throw new ArgumentException("The command names a node that does not exist (deleted?); nothing was recorded.", nameof(request));
        }

        LogUnsent(id, request.Kind, request.NodeId, error);
        return id;
    }

    /// <summary>
    /// Adds recorded commands to their nodes' queues, at most <see cref="EnqueueConcurrency"/> at once. Each message
    /// lives in the queue only until its command expires. A node whose queue is gone (deleted) is skipped and logged.
    /// </summary>
    public async Task EnqueueAsync(IReadOnlyList<SignedCommand> commands, CancellationToken ct)
    {
        await Parallel.ForEachAsync(commands, new ParallelOptions { MaxDegreeOfParallelism = EnqueueConcurrency, CancellationToken = ct }, async (command, token) =>
        {
            var queue = queues.GetQueueClient(QueueNames.NodeCommands(queueOptions.Value.Prefix, command.NodeId));
            var lifetime = command.ExpiresAt - time.GetUtcNow();
            try
            {
                await queue.SendMessageAsync(command.Message, visibilityTimeout: null, timeToLive: lifetime > TimeSpan.FromSeconds(1) ? lifetime : TimeSpan.FromSeconds(1), token);
                LogSent(command.CommandId, command.Kind, command.NodeId);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                LogQueueGone(command.CommandId, command.NodeId);
            }
        });
    }
}
