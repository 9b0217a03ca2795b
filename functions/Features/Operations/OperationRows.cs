using System.Text.Json;
using Automator67.Contracts.Relay;

namespace Automator67.Functions.Features.Operations;

/// <summary>An operation as one advance holds it (under its row lock): changed in memory, written back at the end.</summary>
public sealed class OperationRow
{
    public required Guid Id { get; init; }
    public required Guid AccountId { get; init; }
    public required Guid? AppId { get; init; }
    public required string AppName { get; init; }
    public required string Kind { get; init; }
    public required string Status { get; set; }
    public required Guid? TargetReleaseId { get; set; }
    public required int TargetReplicas { get; set; }
    public required Guid? FromReleaseId { get; init; }
    public required int FromReplicas { get; init; }
    public required string Step { get; set; }
    public required Dictionary<string, int> Attempts { get; init; }
    public required bool CancelRequested { get; set; }
    public required string? Reason { get; set; }
    public required DateTimeOffset Deadline { get; set; }
    public required DateTimeOffset? WakeAt { get; set; }
    public required DateTimeOffset? ScheduledWakeAt { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>Going back to where the app was (after a failure, or because it was cancelled): failing again ends it.</summary>
    public bool Reverting => Status == OperationStatuses.RollingBack || (CancelRequested && Status == OperationStatuses.Running);
}

/// <summary>One replica the control plane placed, and where its lifecycle stands.</summary>
public sealed class ReplicaRow
{
    public required Guid Id { get; init; }
    public required Guid AppId { get; init; }
    public required Guid ReleaseId { get; init; }
    public required int Slot { get; init; }
    public required Guid NodeId { get; init; }
    public required long Generation { get; init; }
    public required string State { get; set; }
    public Guid? OperationId { get; set; }
    public Guid? CommandId { get; set; }
    public DateTimeOffset? CommandSentAt { get; set; }
    public int Attempts { get; set; }
    public int ProbeFailures { get; set; }
    public DateTimeOffset? NextAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? HealthyAt { get; set; }
    public string? ContainerId { get; set; }
    public IReadOnlyList<PortBinding> Ports { get; set; } = [];
    public string? LastError { get; set; }
    public bool IsNew { get; init; }
    public bool Changed { get; set; }

    public bool IsLive => State is not (ReplicaStates.Removed or ReplicaStates.Failed or ReplicaStates.Lost);

    /// <summary>Being taken away: stopped and removed, never to serve again.</summary>
    public bool IsRetiring => State is ReplicaStates.Retiring or ReplicaStates.Removing;
}

public static class ReplicaStates
{
    public const string Placed = "Placed";
    public const string Starting = "Starting";
    public const string Started = "Started";
    public const string Probing = "Probing";
    public const string Healthy = "Healthy";
    public const string Stopping = "Stopping";
    public const string Stopped = "Stopped";
    public const string Restarting = "Restarting";
    public const string Retiring = "Retiring";
    public const string Removing = "Removing";
    public const string Removed = "Removed";
    public const string Failed = "Failed";
    /// <summary>On a node declared Lost: superseded by a placement elsewhere; its container is removed if the node comes back.</summary>
    public const string Lost = "Lost";
}

/// <summary>An image pull on one node for one release, within one operation.</summary>
public sealed class PullRow
{
    public required Guid ReleaseId { get; init; }
    public required Guid NodeId { get; init; }
    public required string State { get; set; }
    public Guid? CommandId { get; set; }
    public DateTimeOffset? CommandSentAt { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset? NextAt { get; set; }
    public string? LastError { get; set; }
    public bool IsNew { get; init; }
    public bool Changed { get; set; }
}

public static class PullStates
{
    public const string Pulling = "Pulling";
    public const string Pulled = "Pulled";
    public const string Failed = "Failed";
}

/// <summary>A command's outcome as an advance sees it: its status in <c>a67.relay_commands</c> and the relay's result.</summary>
public sealed record CommandState(string Status, CommandResult? Result)
{
    public string Error => Result?.Error is { Length: > 0 } error ? error : Status == "Expired" ? "the command expired before the relay answered" : Status;

    public T? Output<T>(System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class =>
        Result?.Output is { ValueKind: JsonValueKind.Object } output ? output.Deserialize(type) : null;
}

/// <summary>A history entry written with the advance that made it.</summary>
public sealed record HistoryEntry(DateTimeOffset At, string Type, string? Step, string Message, object? Data = null);
