using System.Globalization;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Relay;
using Automator67.Functions.Features.Secrets;
using Automator67.Functions.Features.Auth.Authentication;
using Hangfire;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Operations;

/// <summary>
/// What changes what an app runs — <c>POST /api/apps/{id}/deployments</c>, <c>/scale</c>, <c>/rollback</c> — and the
/// operations that do it: <c>/api/operations/{id}</c> (with its history), cancel and retry. Each request that starts
/// an operation answers 202 with it at once; the work goes on in the background and survives restarts.
/// </summary>
public static class OperationEndpoints
{
    static readonly TimeSpan LogsWait = TimeSpan.FromSeconds(15);

    public static void MapOperations(this IEndpointRouteBuilder routes)
    {
        var apps = routes.MapGroup("/api/apps").WithTags("Operations");
        apps.MapPost("/{id:guid}/deployments", Deploy).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapPost("/{id:guid}/scale", Scale).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapPost("/{id:guid}/rollback", Rollback).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapPost("/{id:guid}/restart", (Guid id, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations, IBackgroundJobClient jobs,
            CancellationToken ct) => OnCurrentReleaseAsync(OperationKinds.Restart, id, user, dataSource, releases, operations, jobs, ct)).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapPost("/{id:guid}/stop", (Guid id, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations, IBackgroundJobClient jobs,
            CancellationToken ct) => OnCurrentReleaseAsync(OperationKinds.Stop, id, user, dataSource, releases, operations, jobs, ct)).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapPost("/{id:guid}/start", (Guid id, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations, IBackgroundJobClient jobs,
            CancellationToken ct) => OnCurrentReleaseAsync(OperationKinds.Start, id, user, dataSource, releases, operations, jobs, ct)).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapGet("/{id:guid}/operations", ListForApp).RequireAuthorization(ScopePolicies.Read);
        apps.MapGet("/{id:guid}/replicas", Replicas).RequireAuthorization(ScopePolicies.Read);
        apps.MapGet("/{id:guid}/logs", Logs).RequireAuthorization(ScopePolicies.Read);

        var operations = routes.MapGroup("/api/operations").WithTags("Operations");
        operations.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        operations.MapPost("/{id:guid}/cancel", Cancel).RequireAuthorization(ScopePolicies.Deploy);
        operations.MapPost("/{id:guid}/retry", Retry).RequireAuthorization(ScopePolicies.Deploy);
    }

    /// <summary>Creates the app's next release from the spec and starts deploying it (rolling, with automatic rollback).</summary>
    static async Task<IResult> Deploy(Guid id, ReleaseSpec spec, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations,
        OperationEngine engine, IBackgroundJobClient jobs, TimeProvider time, CancellationToken ct)
    {
        var problems = ReleaseSpecValidation.Validate(spec);
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await OperationStore.LockAppAsync(connection, transaction, user.AccountId, id, ct) is not { } app)
        {
            return TypedResults.NotFound();
        }

        // The registry credential and the secrets it names must exist before any step runs (checked under the app's lock).
        if (await ReleaseReferences.ProblemsAsync(connection, transaction, user.AccountId, app.Id, spec, ct) is { Count: > 0 } missing)
        {
            return TypedResults.ValidationProblem(missing);
        }

        if (await OperationStore.ActiveAsync(connection, transaction, app.Id, ct) is { } active)
        {
            return Busy(active);
        }

        var normalized = spec.Normalize();
        var nodes = await engine.PlacementNodesAsync(connection, transaction, user.AccountId, app.Id, time.GetUtcNow(), ct, excludeApp: true);
        if (Placement.Place(normalized.Replicas, normalized, nodes) is { Nodes: null, Problem: { } unplaceable })
        {
            return TypedResults.Problem(statusCode: 422, title: "The replicas do not fit", detail: $"Placement failed: {unplaceable}",
                extensions: new Dictionary<string, object?> { ["field"] = "constraints / resources / ports" });
        }

        var release = (await releases.CreateAsync(connection, transaction, app.Id, normalized, user.AccountId, ct))!;
        var operationId = await operations.InsertAsync(connection, transaction, new OperationStart(user.AccountId, app.Id, app.Name, OperationKinds.Deploy, release.Id,
            normalized.Replicas, app.CurrentReleaseId, app.Replicas, user.AccountId,
            $"deploy release {release.Number} ({normalized.Image}, {normalized.Replicas} replica{(normalized.Replicas == 1 ? "" : "s")})"
                + (app.CurrentReleaseNumber is { } from ? $" over release {from}" : "")), ct);
        return await StartedAsync(transaction, operations, jobs, user, operationId, ct);
    }

    static async Task<IResult> Scale(Guid id, ScaleRequest request, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations,
        IBackgroundJobClient jobs, CancellationToken ct)
    {
        if (request.Replicas is not (>= 0 and <= ReleaseSpecValidation.MaxReplicas) || request.Replicas is not { } replicas)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["replicas"] = [$"replicas must be between 0 and {ReleaseSpecValidation.MaxReplicas}."] });
        }

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await OperationStore.LockAppAsync(connection, transaction, user.AccountId, id, ct) is not { } app)
        {
            return TypedResults.NotFound();
        }

        if (app.CurrentReleaseId is not { } current)
        {
            return TypedResults.Problem(statusCode: 409, title: "Nothing to scale", detail: "The app runs no release yet: deploy one first (POST /api/apps/{id}/deployments).");
        }

        if (replicas > app.Replicas && await releases.GetAsync(connection, transaction, app.Id, app.CurrentReleaseNumber!.Value, ct) is { } running
            && await ReferenceProblemsAsync(connection, transaction, user.AccountId, app.Id, running, ct) is { } missing)
        {
            return missing;
        }

        if (await OperationStore.ActiveAsync(connection, transaction, app.Id, ct) is { } active)
        {
            return Busy(active);
        }

        var operationId = await operations.InsertAsync(connection, transaction, new OperationStart(user.AccountId, app.Id, app.Name, OperationKinds.Scale, current, replicas,
            current, app.Replicas, user.AccountId, $"scale release {app.CurrentReleaseNumber} from {app.Replicas} to {replicas} replica{(replicas == 1 ? "" : "s")}"), ct);
        return await StartedAsync(transaction, operations, jobs, user, operationId, ct);
    }

    static async Task<IResult> Rollback(Guid id, RollbackRequest? request, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations,
        IBackgroundJobClient jobs, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await OperationStore.LockAppAsync(connection, transaction, user.AccountId, id, ct) is not { } app)
        {
            return TypedResults.NotFound();
        }

        var number = request?.Release ?? (app.CurrentReleaseNumber is { } current ? current - 1 : 0);
        if (number < 1 || await releases.GetAsync(connection, transaction, app.Id, number, ct) is not { } target)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["release"] = [request?.Release is null ? "There is no earlier release to roll back to." : $"The app has no release {request.Release}."],
            });
        }

        if (target.Id == app.CurrentReleaseId)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["release"] = [$"The app runs release {number} already."] });
        }

        if (await ReferenceProblemsAsync(connection, transaction, user.AccountId, app.Id, target, ct) is { } missing)
        {
            return missing;
        }

        if (await OperationStore.ActiveAsync(connection, transaction, app.Id, ct) is { } active)
        {
            return Busy(active);
        }

        var replicas = app.CurrentReleaseId is null ? target.Spec.Replicas : app.Replicas;
        var operationId = await operations.InsertAsync(connection, transaction, new OperationStart(user.AccountId, app.Id, app.Name, OperationKinds.Rollback, target.Id, replicas,
            app.CurrentReleaseId, app.Replicas, user.AccountId, $"roll back to release {number} with {replicas} replica{(replicas == 1 ? "" : "s")}"), ct);
        return await StartedAsync(transaction, operations, jobs, user, operationId, ct);
    }

    /// <summary>
    /// Restart (rolling, in place), stop (every replica, kept) or start (the stopped ones, and any missing) the release
    /// the app runs. 409 when it runs none, or when another operation is active.
    /// </summary>
    static async Task<IResult> OnCurrentReleaseAsync(string kind, Guid id, CurrentUser user, NpgsqlDataSource dataSource, ReleaseStore releases, OperationStore operations,
        IBackgroundJobClient jobs, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await OperationStore.LockAppAsync(connection, transaction, user.AccountId, id, ct) is not { } app)
        {
            return TypedResults.NotFound();
        }

        if (app.CurrentReleaseId is not { } current)
        {
            return TypedResults.Problem(statusCode: 409, title: $"Nothing to {kind}", detail: "The app runs no release yet: deploy one first (POST /api/apps/{id}/deployments).");
        }

        // Restart and start make containers again: what the release refers to must still be there.
        if (kind != OperationKinds.Stop && await releases.GetAsync(connection, transaction, app.Id, app.CurrentReleaseNumber!.Value, ct) is { } running
            && await ReferenceProblemsAsync(connection, transaction, user.AccountId, app.Id, running, ct) is { } missing)
        {
            return missing;
        }

        if (await OperationStore.ActiveAsync(connection, transaction, app.Id, ct) is { } active)
        {
            return Busy(active);
        }

        var message = kind switch
        {
            OperationKinds.Restart => $"restart the {app.Replicas} replica{(app.Replicas == 1 ? "" : "s")} of release {app.CurrentReleaseNumber}, a batch at a time",
            OperationKinds.Stop => $"stop every replica of release {app.CurrentReleaseNumber}",
            _ => $"start release {app.CurrentReleaseNumber} with {app.Replicas} replica{(app.Replicas == 1 ? "" : "s")}",
        };
        var operationId = await operations.InsertAsync(connection, transaction, new OperationStart(user.AccountId, app.Id, app.Name, kind, current, app.Replicas,
            current, app.Replicas, user.AccountId, message), ct);
        return await StartedAsync(transaction, operations, jobs, user, operationId, ct);
    }

    /// <summary>
    /// Removes a deployed app: every replica is stopped and removed, then the app itself (with its releases) goes; its
    /// operations stay readable. 202 with the operation; 409 when another operation is active.
    /// </summary>
    public static async Task<IResult> RemoveAsync(Guid id, CurrentUser user, NpgsqlDataSource dataSource, OperationStore operations, IBackgroundJobClient jobs,
        AuditLog audit, AuditEvent requested, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await OperationStore.LockAppAsync(connection, transaction, user.AccountId, id, ct) is not { } app)
        {
            return TypedResults.NotFound();
        }

        if (await OperationStore.ActiveAsync(connection, transaction, app.Id, ct) is { } active)
        {
            return Busy(active);
        }

        var operationId = await operations.InsertAsync(connection, transaction, new OperationStart(user.AccountId, app.Id, app.Name, OperationKinds.Remove, null, 0,
            app.CurrentReleaseId, app.Replicas, user.AccountId, $"remove the app {app.Name} and every replica of it"), ct);
        await audit.WriteAsync(connection, transaction, requested with
        {
            Detail = new Dictionary<string, object?> { ["appId"] = app.Id, ["name"] = app.Name, ["operationId"] = operationId },
        }, ct);
        return await StartedAsync(transaction, operations, jobs, user, operationId, ct);
    }

    static async Task<Results<Ok<OperationView>, NotFound>> Get(Guid id, CurrentUser user, OperationStore operations, CancellationToken ct) =>
        await operations.FindAsync(user.AccountId, id, ct) is { } view ? TypedResults.Ok(view) : TypedResults.NotFound();

    /// <param name="id">The app.</param>
    /// <param name="user">The caller.</param>
    /// <param name="apps">The app store.</param>
    /// <param name="operations">The operation store.</param>
    /// <param name="limit">At most this many, newest first (1-100, default 20).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<IResult> ListForApp(Guid id, CurrentUser user, AppStore apps, OperationStore operations, int? limit, CancellationToken ct)
    {
        if (limit is < 1 or > 100)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["limit must be between 1 and 100."] });
        }

        return await apps.FindAsync(user.AccountId, id, ct) is null
            ? TypedResults.NotFound()
            : TypedResults.Ok(await operations.ListForAppAsync(id, limit ?? 20, ct));
    }

    static async Task<IResult> Replicas(Guid id, CurrentUser user, AppStore apps, ReplicaQueries replicas, CancellationToken ct) =>
        await apps.FindAsync(user.AccountId, id, ct) is null ? TypedResults.NotFound() : TypedResults.Ok(await replicas.ListAsync(id, ct));

    /// <summary>The last lines of every running replica's log, fetched through the relays (each bounded to 32 KiB).</summary>
    /// <param name="id">The app.</param>
    /// <param name="user">The caller.</param>
    /// <param name="apps">The app store.</param>
    /// <param name="replicas">The replica queries.</param>
    /// <param name="sender">Sends the logs commands.</param>
    /// <param name="results">Waits for their results.</param>
    /// <param name="tail">Lines per replica (1-1000, default 100).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<IResult> Logs(Guid id, CurrentUser user, AppStore apps, ReplicaQueries replicas, CommandSender sender, CommandResults results, int? tail,
        CancellationToken ct)
    {
        if (tail is < 1 or > 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["tail"] = ["tail must be between 1 and 1000."] });
        }

        if (await apps.FindAsync(user.AccountId, id, ct) is null)
        {
            return TypedResults.NotFound();
        }

        var running = (await replicas.ListAsync(id, ct)).Where(r => r.ContainerId is not null).ToList();
        var label = id.ToString("N");
        var signed = await sender.SendAsync([.. running.Select(r => new CommandRequest(r.NodeId, CommandKinds.Logs,
            JsonSerializer.SerializeToElement(new LogsBody(new ReplicaSelector(label, r.Release.ToString(CultureInfo.InvariantCulture), r.Slot), tail ?? 100),
                RelayJsonContext.Default.LogsBody), null, LogsWait))], ct);
        var logs = await Task.WhenAll(running.Zip(signed).Select(async pair =>
        {
            var (replica, command) = pair;
            var outcome = await results.WaitAsync(command.CommandId, LogsWait, ct);
            var output = outcome?.Result?.Output is { ValueKind: JsonValueKind.Object } element ? element.Deserialize(RelayJsonContext.Default.LogsOutput) : null;
            return new ReplicaLogsView(replica.Release, replica.Slot, replica.NodeName, output?.ContainerId ?? replica.ContainerId, output?.Text, output?.Truncated ?? false,
                outcome is null ? $"the relay on {replica.NodeName} did not answer within {LogsWait.TotalSeconds} s"
                : outcome.Status == CommandStatuses.Succeeded ? null : outcome.Result?.Error ?? outcome.Status);
        }));
        return TypedResults.Ok(logs);
    }

    static async Task<IResult> Cancel(Guid id, CurrentUser user, OperationStore operations, IBackgroundJobClient jobs, CancellationToken ct)
    {
        return await operations.CancelAsync(user.AccountId, id, ct) switch
        {
            OperationChange.NotFound => TypedResults.NotFound(),
            OperationChange.Finished => TypedResults.Problem(statusCode: 409, title: "Already finished", detail: "The operation has finished; there is nothing to cancel."),
            OperationChange.AlreadyReverting => TypedResults.Problem(statusCode: 409, title: "Already rolling back",
                detail: "The operation is rolling back to the release the app ran before; it cannot be cancelled on the way back."),
            _ => await AcceptedAsync(operations, jobs, user, id, ct),
        };
    }

    static async Task<IResult> Retry(Guid id, CurrentUser user, OperationStore operations, IBackgroundJobClient jobs, CancellationToken ct)
    {
        return await operations.RetryAsync(user.AccountId, id, ct) switch
        {
            OperationChange.NotFound => TypedResults.NotFound(),
            OperationChange.NotFailed => TypedResults.Problem(statusCode: 409, title: "Not failed", detail: "Only a Failed operation can be retried."),
            OperationChange.AnotherActive => TypedResults.Problem(statusCode: 409, title: "Another operation is active",
                detail: "The app has another operation in progress; retry this one when it has finished."),
            _ => await AcceptedAsync(operations, jobs, user, id, ct),
        };
    }

    static async Task<IResult> StartedAsync(NpgsqlTransaction transaction, OperationStore operations, IBackgroundJobClient jobs, CurrentUser user, Guid operationId,
        CancellationToken ct)
    {
        try
        {
            await transaction.CommitAsync(ct);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: OperationStore.OneActiveIndex })
        {
            // Lost a race with another request for the same app (the app lock makes this rare).
            return TypedResults.Problem(statusCode: 409, title: "Another operation is active", detail: "The app has an operation in progress.");
        }

        return await AcceptedAsync(operations, jobs, user, operationId, ct);
    }

    static async Task<IResult> AcceptedAsync(OperationStore operations, IBackgroundJobClient jobs, CurrentUser user, Guid operationId, CancellationToken ct)
    {
        jobs.Enqueue<OperationJobs>(j => j.AdvanceAsync(operationId, CancellationToken.None));
        return TypedResults.Accepted($"/api/operations/{operationId}", await operations.FindAsync(user.AccountId, operationId, ct));
    }

    /// <summary>A 400 naming what the release refers to and is missing (a secret, a registry credential), or null.</summary>
    static async Task<IResult?> ReferenceProblemsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid appId, Release release,
        CancellationToken ct) =>
        await ReleaseReferences.ProblemsAsync(connection, transaction, accountId, appId, release.Spec, ct) is { Count: > 0 } problems
            ? TypedResults.ValidationProblem(problems, detail: $"Release {release.Number} refers to secrets or registry credentials that no longer exist.")
            : null;

    static ProblemHttpResult Busy(Guid active) => TypedResults.Problem(statusCode: 409, title: "Another operation is active",
        detail: $"The app has an operation in progress ({active}); wait for it, or cancel it with POST /api/operations/{active}/cancel.",
        extensions: new Dictionary<string, object?> { ["operationId"] = active });
}
