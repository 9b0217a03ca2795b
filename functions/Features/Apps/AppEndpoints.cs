using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Labels;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Apps;

/// <summary>The account's apps and their releases: <c>/api/apps</c>. Deployments, which create releases, build on these.</summary>
public static class AppEndpoints
{
    public static RouteGroupBuilder MapApps(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/apps").WithTags("Apps");
        group.MapPost("/", Create).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        group.MapPatch("/{id:guid}", Patch).RequireAuthorization(ScopePolicies.Deploy);
        group.MapDelete("/{id:guid}", Delete).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/{id:guid}/releases", ListReleases).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}/releases/{number:int}", GetRelease).RequireAuthorization(ScopePolicies.Read);
        return group;
    }

    static async Task<Results<Created<AppView>, ValidationProblem, ProblemHttpResult>> Create(
        AppCreateRequest request, CurrentUser user, AppStore apps, HttpContext http, CancellationToken ct)
    {
        var problems = Problems(("name", AppValidation.NameProblem(request.Name)), ("labels", LabelRules.LabelsProblem(request.Labels)));
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        try
        {
            var app = await apps.CreateAsync(user.AccountId, request.Name!, request.Labels ?? [], AuditEvent.From(http, AuditTypes.AppCreated, user.AccountId, user.AccountId), ct);
            return TypedResults.Created($"/api/apps/{app.Id}", View(app));
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: AppStore.NameIndex })
        {
            return NameTaken(request.Name!);
        }
    }

    /// <param name="user">The caller.</param>
    /// <param name="apps">The app store.</param>
    /// <param name="label">Only apps with this label, as <c>key=value</c> (or <c>key</c> for any value).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Ok<AppView[]>> List(CurrentUser user, AppStore apps, string? label, CancellationToken ct)
    {
        var (key, value) = label?.Split('=', 2) is [var k, var v] ? (k, v) : (label, null);
        return TypedResults.Ok((await apps.ListAsync(user.AccountId, key, value, ct)).Select(View).ToArray());
    }

    /// <summary>The app, with what it should run and what runs: replicas per release and per node, the active operation.</summary>
    static async Task<Results<Ok<AppView>, NotFound>> Get(Guid id, CurrentUser user, AppStore apps, Operations.ReplicaQueries replicas, CancellationToken ct) =>
        await apps.FindAsync(user.AccountId, id, ct) is { } app
            ? TypedResults.Ok(View(app) with { Runtime = await replicas.RuntimeAsync(app.Id, ct) })
            : TypedResults.NotFound();

    static async Task<Results<Ok<AppView>, NotFound, ValidationProblem, ProblemHttpResult>> Patch(
        Guid id, AppPatchRequest request, CurrentUser user, AppStore apps, HttpContext http, CancellationToken ct)
    {
        var problems = Problems(("name", request.Name is null ? null : AppValidation.NameProblem(request.Name)), ("labels", LabelRules.LabelsProblem(request.Labels)),
            ("body", request.Name is null && request.Labels is null ? "Send name, labels or both." : null));
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        try
        {
            return await apps.UpdateAsync(user.AccountId, id, request.Name, request.Labels, AuditEvent.From(http, AuditTypes.AppUpdated, user.AccountId, user.AccountId), ct) is { } app
                ? TypedResults.Ok(View(app))
                : TypedResults.NotFound();
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: AppStore.NameIndex })
        {
            return NameTaken(request.Name!);
        }
    }

    /// <summary>
    /// Deletes an app that was never deployed at once (204); one with releases may have replicas running, so a remove
    /// operation takes them away first and then the app (202 with the operation).
    /// </summary>
    static async Task<IResult> Delete(Guid id, CurrentUser user, AppStore apps, HttpContext http, NpgsqlDataSource dataSource,
        Operations.OperationStore operations, Hangfire.IBackgroundJobClient jobs, AuditLog audit, CancellationToken ct) =>
        await apps.DeleteAsync(user.AccountId, id, AuditEvent.From(http, AuditTypes.AppDeleted, user.AccountId, user.AccountId), ct) switch
        {
            AppDeleteOutcome.Deleted => TypedResults.NoContent(),
            AppDeleteOutcome.NotFound => TypedResults.NotFound(),
            _ => await Operations.OperationEndpoints.RemoveAsync(id, user, dataSource, operations, jobs, audit,
                AuditEvent.From(http, AuditTypes.AppRemovalRequested, user.AccountId, user.AccountId), ct),
        };

    /// <summary>The app's releases, newest first.</summary>
    /// <param name="id">The app.</param>
    /// <param name="user">The caller.</param>
    /// <param name="apps">The app store.</param>
    /// <param name="releases">The release store.</param>
    /// <param name="before">Paging: only releases numbered below this (the last number of the previous page).</param>
    /// <param name="limit">Page size, 1-100 (default 20).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<ReleaseView[]>, NotFound, ValidationProblem>> ListReleases(
        Guid id, CurrentUser user, AppStore apps, ReleaseStore releases, int? before, int? limit, CancellationToken ct)
    {
        var problems = Problems(("limit", limit is < 1 or > ReleaseStore.MaxPageSize ? $"limit must be between 1 and {ReleaseStore.MaxPageSize}." : null),
            ("before", before is < 1 ? "before must be a release number (1 or more)." : null));
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        if (await apps.FindAsync(user.AccountId, id, ct) is null)
        {
            return TypedResults.NotFound();
        }

        var page = await releases.ListAsync(id, ct, limit ?? ReleaseStore.DefaultPageSize, before);
        return TypedResults.Ok(page.Select(View).ToArray());
    }

    static async Task<Results<Ok<ReleaseView>, NotFound>> GetRelease(Guid id, int number, CurrentUser user, AppStore apps, ReleaseStore releases, CancellationToken ct) =>
        await apps.FindAsync(user.AccountId, id, ct) is not null && await releases.GetAsync(id, number, ct) is { } release
            ? TypedResults.Ok(View(release))
            : TypedResults.NotFound();

    static ProblemHttpResult NameTaken(string name) => TypedResults.Problem(new HttpValidationProblemDetails(
        new Dictionary<string, string[]> { ["name"] = [$"Another of your apps is called '{name}'."] })
    {
        Status = StatusCodes.Status409Conflict,
        Title = "Name taken",
        Detail = $"Another of your apps is called '{name}'.",
    });

    static AppView View(App app) => new(app.Id, app.Name, app.Labels, app.CreatedAt, app.UpdatedAt);

    static ReleaseView View(Release release) => new(release.Id, release.Number, release.CreatedAt, release.CreatedBy, release.Spec);

    static Dictionary<string, string[]> Problems(params (string Field, string? Problem)[] problems) =>
        problems.Where(p => p.Problem is not null).ToDictionary(p => p.Field, p => new[] { p.Problem! });
}
