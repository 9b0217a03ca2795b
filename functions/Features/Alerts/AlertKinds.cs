using Automator67.Functions.Features.Events;

namespace Automator67.Functions.Features.Alerts;

/// <summary>What a rule watches, and which events fire and resolve it.</summary>
public static class AlertKinds
{
    public const string NodeOffline = "node-offline";
    public const string CrashLoop = "crash-loop";
    public const string CpuAbove = "cpu-above";
    public const string MemoryAbove = "memory-above";
    public const string DeployFailed = "deploy-failed";

    public static readonly IReadOnlyList<string> All = [NodeOffline, CrashLoop, CpuAbove, MemoryAbove, DeployFailed];

    /// <summary>CPU % is of one core, as <c>docker stats</c> reports it: 400 is four cores busy. 6400 allows 64 cores.</summary>
    public const double MaxCpuPercent = 6400;

    public const int MinDurationSeconds = 10;
    public const int MaxDurationSeconds = 86_400;

    public static bool IsThreshold(string kind) => kind is CpuAbove or MemoryAbove;

    /// <summary>The rule kinds an event fires (its subject is the node for node-offline, else the app).</summary>
    public static string? FiredBy(string eventType) => eventType switch
    {
        EventTypes.NodeUnreachable or EventTypes.NodeLost => NodeOffline,
        EventTypes.ReplicaCrashLooping => CrashLoop,
        EventTypes.DeployFailed or EventTypes.DeployRolledBack => DeployFailed,
        _ => null,
    };

    /// <summary>The rule kinds whose open alerts on the event's subject an event resolves.</summary>
    public static string[] ResolvedBy(string eventType) => eventType switch
    {
        EventTypes.NodeBack => [NodeOffline],
        // A deploy (or rollback) that succeeded left every replica of the app healthy: a crash loop is over too.
        EventTypes.DeploySucceeded => [DeployFailed, CrashLoop],
        _ => [],
    };

    /// <summary>The event types the evaluator reads.</summary>
    public static readonly string[] EventTypesRead =
    [
        EventTypes.NodeUnreachable, EventTypes.NodeLost, EventTypes.NodeBack, EventTypes.ReplicaCrashLooping,
        EventTypes.DeployFailed, EventTypes.DeployRolledBack, EventTypes.DeploySucceeded,
    ];

    public static string SubjectType(string kind) => kind == NodeOffline ? "node" : "app";
}
