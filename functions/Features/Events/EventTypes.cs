namespace Automator67.Functions.Features.Events;

/// <summary>The kinds of event the feed carries. Alert rules match on them.</summary>
public static class EventTypes
{
    public const string ReplicaCrashed = "replica.crashed";
    public const string ReplicaRestarted = "replica.restarted";
    public const string ReplicaRescheduled = "replica.rescheduled";
    public const string ReplicaCrashLooping = "replica.crash-looping";
    public const string ReplicaRecreated = "replica.recreated";
    public const string ContainerOrphanRemoved = "container.orphan-removed";
    public const string NodeUnreachable = "node.unreachable";
    public const string NodeLost = "node.lost";
    public const string NodeBack = "node.back";
    public const string NodeFenced = "node.fenced";
    public const string ReschedulingPaused = "rescheduling.paused";
    public const string DeploySucceeded = "deploy.succeeded";
    public const string DeployFailed = "deploy.failed";
    public const string DeployRolledBack = "deploy.rolled-back";
    public const string DeployCancelled = "deploy.cancelled";
    public const string OperationSucceeded = "operation.succeeded";
    public const string OperationFailed = "operation.failed";
    public const string OperationRolledBack = "operation.rolled-back";
    public const string OperationCancelled = "operation.cancelled";

    public static readonly IReadOnlyList<string> All =
    [
        ReplicaCrashed, ReplicaRestarted, ReplicaRescheduled, ReplicaCrashLooping, ReplicaRecreated, ContainerOrphanRemoved,
        NodeUnreachable, NodeLost, NodeBack, NodeFenced, ReschedulingPaused,
        DeploySucceeded, DeployFailed, DeployRolledBack, DeployCancelled,
        OperationSucceeded, OperationFailed, OperationRolledBack, OperationCancelled,
    ];
}

public static class EventSeverities
{
    public const string Info = "info";
    public const string Warning = "warning";
    public const string Critical = "critical";
}
