using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Audit;

namespace Automator67.Functions.Features.Relay;

/// <summary>What became of one queue message.</summary>
public abstract record EventOutcome
{
    /// <summary>Applied, or known already; <paramref name="Completed"/> is a command whose result it carried.</summary>
    public sealed record Applied(ApplyResult Result, CommandOutcome? Completed = null) : EventOutcome;

    /// <summary>Dropped and audited; nothing of it was applied.</summary>
    public sealed record Refused(string? ClaimedNodeId, string Reason) : EventOutcome;
}

/// <summary>
/// One relay event, from queue text to effect: the JWS must verify against the enrolled key of the node its
/// <c>kid</c> names, the envelope must name that same node, and only then is its content read. Anything else is
/// dropped and audited (<c>relay.event.refused</c>) with the node it claims and the reason, never its content.
/// </summary>
public sealed class RelayEventProcessor(NodeKeys nodeKeys, RelayEventStore store, AuditLog audit, TimeProvider time)
{
    /// <summary>An older event is refused: applied event ids are remembered for <see cref="SeenRetention"/>, so a replay could not be told apart.</summary>
    public static readonly TimeSpan MaxEventAge = TimeSpan.FromDays(7);

    public static readonly TimeSpan SeenRetention = MaxEventAge + TimeSpan.FromDays(1);

    const int MaxContainers = 2000;
    const int MaxParts = 100;
    const int MaxText = 256;

    /// <param name="message">The queue message's text (a compact JWS).</param>
    /// <param name="messageId">The queue's id for the message, for the audit trail.</param>
    /// <param name="insertedOn">When the queue took the message: the time a heartbeat counts for.</param>
    /// <param name="ct">Stops the work; nothing is committed then.</param>
    public async Task<EventOutcome> ProcessAsync(string message, string messageId, DateTimeOffset? insertedOn, CancellationToken ct)
    {
        var claimed = Jws.PeekKid(message);
        if (claimed is null)
        {
            return await RefuseAsync(null, null, "the message is not a compact JWS naming its node", messageId, ct);
        }

        if (!Guid.TryParse(claimed, out var nodeId) || await nodeKeys.FindAsync(nodeId, ct) is not { } node)
        {
            return await RefuseAsync(claimed, null, "the message names a node that is unknown or deleted", messageId, ct);
        }

        byte[]? payload;
        string? problem;
        using (var key = node.CreateKey())
        {
            (payload, _, problem) = Jws.Verify(message, MessageTypes.Event, kid => kid == claimed ? key : null);
        }

        if (problem is not null)
        {
            return await RefuseAsync(claimed, node.AccountId, problem, messageId, ct);
        }

        var envelope = Read(payload!, RelayJsonContext.Default.EventEnvelope);
        if (envelope is null || envelope.Kind is null)
        {
            return await RefuseAsync(claimed, node.AccountId, "the event is not a valid envelope", messageId, ct);
        }

        if (envelope.NodeId != nodeId)
        {
            return await RefuseAsync(claimed, node.AccountId, "the event claims to come from another node than the one that signed it", messageId, ct);
        }

        var now = time.GetUtcNow();
        if (envelope.SentAt < now - MaxEventAge)
        {
            return await RefuseAsync(claimed, node.AccountId, "the event is older than 7 days", messageId, ct);
        }

        switch (envelope.Kind)
        {
            case EventKinds.Heartbeat:
                var heartbeat = Read(envelope.Body, RelayJsonContext.Default.HeartbeatBody);
                if (HeartbeatProblem(heartbeat) is { } badHeartbeat)
                {
                    return await RefuseAsync(claimed, node.AccountId, $"malformed heartbeat: {badHeartbeat}", messageId, ct);
                }

                var beatAt = insertedOn is { } inserted && inserted < now ? inserted : now;
                return await AppliedAsync(await store.ApplyHeartbeatAsync(envelope, heartbeat!, beatAt, ct), null);

            case EventKinds.Result:
                var result = Read(envelope.Body, RelayJsonContext.Default.CommandResult);
                if (result is null || result.Kind is null || result.Status is null || CommandStatuses.FromResult(result.Status) is not { } status)
                {
                    return await RefuseAsync(claimed, node.AccountId, "malformed result: commandId, kind and status (succeeded, failed or refused) are required", messageId, ct);
                }

                var (applied, completed) = await store.ApplyResultAsync(envelope, result, status, ct);
                return await AppliedAsync(applied, completed);

            default:
                return await RefuseAsync(claimed, node.AccountId, $"unknown event kind '{Printable(envelope.Kind)}'", messageId, ct);
        }

        async Task<EventOutcome> AppliedAsync(ApplyResult applied, CommandOutcome? completed) => applied switch
        {
            ApplyResult.NodeGone => await RefuseAsync(claimed, node.AccountId, "the node has been deleted", messageId, ct),
            ApplyResult.NotThisNodesCommand => await RefuseAsync(claimed, node.AccountId, "the result is for a command that was not sent to this node", messageId, ct),
            _ => new EventOutcome.Applied(applied, completed),
        };
    }

    async Task<EventOutcome> RefuseAsync(string? claimed, Guid? accountId, string reason, string messageId, CancellationToken ct)
    {
        var node = claimed is null ? null : Printable(claimed);
        await audit.WriteAsync(new AuditEvent(AuditTypes.RelayEventRefused, accountId, null, null, null, new Dictionary<string, object?>
        {
            ["nodeId"] = node,
            ["reason"] = reason,
            ["messageId"] = messageId,
        }), ct);
        return new EventOutcome.Refused(node, reason);
    }

    static string? HeartbeatProblem(HeartbeatBody? heartbeat)
    {
        if (heartbeat?.Facts is null || heartbeat.Containers is null)
        {
            return "facts and containers are required";
        }

        var facts = heartbeat.Facts;
        if (facts.Cpus < 1 || facts.MemoryBytes < 1
            || new[] { facts.Hostname, facts.OperatingSystem, facts.Architecture, facts.DockerVersion, facts.DockerApiVersion }.Any(t => string.IsNullOrEmpty(t) || t.Length > MaxText))
        {
            return "facts: hostname, operatingSystem, architecture, dockerVersion, dockerApiVersion, cpus and memoryBytes are required";
        }

        if (heartbeat.Parts is < 1 or > MaxParts || heartbeat.Part < 1 || heartbeat.Part > heartbeat.Parts)
        {
            return $"part must be between 1 and parts (at most {MaxParts})";
        }

        if (heartbeat.Containers.Count > MaxContainers)
        {
            return $"at most {MaxContainers} containers";
        }

        foreach (var container in heartbeat.Containers)
        {
            if (container is null || new[] { container.Id, container.Name, container.App, container.Release, container.State }.Any(t => t is null || t.Length > MaxText))
            {
                return $"each container needs id, name, app, release and state (at most {MaxText} characters)";
            }

            if (container.Stats is { } stats && !double.IsFinite(stats.CpuPercent))
            {
                return "cpuPercent must be a number";
            }
        }

        return null;
    }

    static T? Read<T>(byte[] json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException)
        {
            return default;
        }
    }

    static T? Read<T>(JsonElement json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return json.Deserialize(type);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return default;
        }
    }

    static string Printable(string text) => new([.. text.Where(c => !char.IsControl(c)).Take(64)]);
}
