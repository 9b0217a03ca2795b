using System.Text.Json;

namespace Automator67.Functions.Features.Operations;

public static class OperationStatuses
{
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
    public const string Cancelled = "Cancelled";
    public const string RollingBack = "RollingBack";
    public const string RolledBack = "RolledBack";

    public static bool IsActive(string status) => status is Pending or Running or RollingBack;
}

public static class OperationKinds
{
    public const string Deploy = "deploy";
    public const string Scale = "scale";
    public const string Rollback = "rollback";
    public const string Restart = "restart";
    public const string Stop = "stop";
    public const string Start = "start";
    public const string Remove = "remove";
    /// <summary>Started by the sweeps: puts back replicas lost with a node or gone from theirs, on the app's current release.</summary>
    public const string Heal = "heal";
}

/// <summary>The steps an operation moves through; <c>attempts</c> counts the commands each one sent.</summary>
public static class OperationSteps
{
    public const string Place = "place";
    public const string Pull = "pull";
    public const string Start = "start";
    public const string Health = "health";
    public const string Retire = "retire";
    public const string Stop = "stop";
    public const string Restart = "restart";
    public const string Done = "done";
}

/// <summary>Kinds of history entries.</summary>
public static class HistoryTypes
{
    public const string Created = "created";
    public const string StepStarted = "step-started";
    public const string CommandSent = "command-sent";
    public const string Result = "result";
    public const string RetryScheduled = "retry-scheduled";
    public const string Timeout = "timeout";
    public const string Rollback = "rollback";
    public const string CancelRequested = "cancel-requested";
    public const string Retried = "retried";
    public const string Finished = "finished";
}

/// <summary><c>GET /api/operations/{id}</c>.</summary>
public sealed record OperationView(
    Guid Id,
    Guid? AppId,
    string AppName,
    string Kind,
    string Status,
    string Step,
    IReadOnlyDictionary<string, int> Attempts,
    int? TargetRelease,
    int TargetReplicas,
    int? FromRelease,
    string? Reason,
    bool CancelRequested,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset Deadline,
    IReadOnlyList<HistoryEntryView>? History);

public sealed record HistoryEntryView(long Seq, DateTimeOffset At, string Type, string? Step, string Message, JsonElement? Data);

/// <summary>Body of <c>POST /api/apps/{id}/scale</c>.</summary>
public sealed record ScaleRequest(int? Replicas);

/// <summary>Body of <c>POST /api/apps/{id}/rollback</c>: the release number to go back to (default: the one before the current).</summary>
public sealed record RollbackRequest(int? Release);

/// <summary>One replica's log lines (<c>GET /api/apps/{id}/logs</c>); <see cref="Error"/> says why there are none.</summary>
public sealed record ReplicaLogsView(int Release, int Slot, string NodeName, string? ContainerId, string? Text, bool Truncated, string? Error);
