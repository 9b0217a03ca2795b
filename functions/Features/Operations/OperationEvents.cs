using Automator67.Functions.Features.Events;

namespace Automator67.Functions.Features.Operations;

/// <summary>The event an operation leaves in the feed when it ends: deploy.* for deployments and rollbacks, operation.* for the rest.</summary>
public static class OperationEvents
{
    public static AppEvent Finished(OperationRow op, AdvanceContext ctx, DateTimeOffset now)
    {
        var deploy = op.Kind is OperationKinds.Deploy or OperationKinds.Rollback;
        var (type, severity) = op.Status switch
        {
            OperationStatuses.Succeeded => (deploy ? EventTypes.DeploySucceeded : EventTypes.OperationSucceeded, EventSeverities.Info),
            OperationStatuses.RolledBack => (deploy ? EventTypes.DeployRolledBack : EventTypes.OperationRolledBack, EventSeverities.Warning),
            OperationStatuses.Cancelled => (deploy ? EventTypes.DeployCancelled : EventTypes.OperationCancelled, EventSeverities.Info),
            _ => (deploy ? EventTypes.DeployFailed : EventTypes.OperationFailed, EventSeverities.Critical),
        };
        var release = op.TargetReleaseId is { } id && ctx.Releases.TryGetValue(id, out var r) ? r.Number : (int?)null;
        var what = $"{op.Kind} of {op.AppName}";
        var message = op.Status switch
        {
            OperationStatuses.Succeeded when release is { } n => $"{what} succeeded: release {n}, {op.TargetReplicas} replica{(op.TargetReplicas == 1 ? "" : "s")}",
            OperationStatuses.Succeeded => $"{what} succeeded",
            OperationStatuses.RolledBack => $"{what} rolled back{(release is { } back ? $" to release {back}" : "")}: {op.Reason}",
            OperationStatuses.Cancelled => $"{what} cancelled",
            _ => $"{what} failed: {op.Reason}",
        };
        return new AppEvent(op.AccountId, now, type, severity, message, op.AppId, OperationId: op.Id, Detail: new Dictionary<string, object?>
        {
            ["kind"] = op.Kind,
            ["status"] = op.Status,
            ["release"] = release,
            ["replicas"] = op.TargetReplicas,
            ["reason"] = op.Reason,
        });
    }
}
