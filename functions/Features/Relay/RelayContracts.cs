using System.Text.Json;
using Automator67.Contracts.Relay;

namespace Automator67.Functions.Features.Relay;

/// <summary>
/// One command to send: which node, what kind (<see cref="CommandKinds"/>), its body, optionally the operation it
/// serves, and how long it may wait in the queue (<see cref="Nodes.NodeOptions.CommandLifetime"/> when null).
/// </summary>
public sealed record CommandRequest(Guid NodeId, string Kind, JsonElement Body, Guid? OperationId = null, TimeSpan? Lifetime = null);

/// <summary>A command recorded and signed: <see cref="Message"/> is the compact JWS that goes on the node's queue.</summary>
public sealed record SignedCommand(Guid CommandId, Guid NodeId, string Kind, DateTimeOffset ExpiresAt, string Message);

/// <summary>Where a command stands in <c>a67.relay_commands</c>.</summary>
public static class CommandStatuses
{
    public const string Pending = "Pending";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Refused = "Refused";
    public const string Expired = "Expired";

    /// <summary>The stored status for a result's <see cref="CommandResult.Status"/>; null for one the protocol does not know.</summary>
    public static string? FromResult(string status) => status switch
    {
        ResultStatuses.Succeeded => Succeeded,
        ResultStatuses.Failed => Failed,
        ResultStatuses.Refused => Refused,
        _ => null,
    };
}

/// <summary>A command's state: <see cref="Result"/> is what the relay reported, once it has.</summary>
public sealed record CommandOutcome(Guid CommandId, Guid NodeId, string Kind, string Status, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt, CommandResult? Result);

/// <summary>A message in the poison queue, as <c>GET /api/relay/poison</c> shows it: never the whole payload.</summary>
public sealed record PoisonMessageView(string MessageId, DateTimeOffset? InsertedOn, long DequeueCount, string? ClaimedNodeId, int Length, string Preview);

/// <summary>Told of each command result once it is committed (an operation advances on it).</summary>
public interface ICommandResultListener
{
    Task OnCompletedAsync(CommandOutcome completed, CancellationToken ct);
}
