using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Automator67.Functions.Features.Alerts;

/// <summary>The account's alerts: <c>GET /api/alerts</c>, one with its deliveries, and acknowledgement.</summary>
public static class AlertEndpoints
{
    public const int MaxPage = 500;
    public const int DefaultPage = 100;

    /// <summary><c>open</c> stands for firing and acknowledged together.</summary>
    static readonly string[] Statuses = [AlertTransitions.Firing, AlertTransitions.Acknowledged, AlertTransitions.Resolved, "open"];

    public static RouteGroupBuilder MapAlerts(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/alerts").WithTags("Alerts");
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        group.MapPost("/{id:guid}/acknowledge", Acknowledge).RequireAuthorization(ScopePolicies.Deploy);
        return group;
    }

    /// <summary>The account's alerts, newest first.</summary>
    /// <param name="user">The caller.</param>
    /// <param name="alerts">The alert store.</param>
    /// <param name="status">Only these statuses (comma-separated): firing, acknowledged, resolved, or open (firing and acknowledged).</param>
    /// <param name="ruleId">Only this rule's alerts.</param>
    /// <param name="before">Paging: the <c>nextBefore</c> of the previous page.</param>
    /// <param name="limit">Page size, 1-500 (default 100).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<AlertPage>, ValidationProblem>> List(CurrentUser user, AlertStore alerts, string? status, Guid? ruleId, Guid? before, int? limit,
        CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var statuses = status?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        if (status is not null && (statuses.Length == 0 || statuses.Any(s => !Statuses.Contains(s, StringComparer.Ordinal))))
        {
            errors["status"] = [$"status takes one or more of {string.Join(", ", Statuses)} (comma-separated)."];
        }

        if (limit is < 1 or > MaxPage)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxPage}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        string[] wanted = [.. statuses.SelectMany(s => s == "open" ? [AlertTransitions.Firing, AlertTransitions.Acknowledged] : new[] { s }).Distinct()];
        return TypedResults.Ok(await alerts.ListAsync(user.AccountId, wanted, ruleId, before, limit ?? DefaultPage, ct));
    }

    /// <summary>One alert with its deliveries (each webhook, each transition, every attempt).</summary>
    static async Task<Results<Ok<AlertView>, NotFound>> Get(Guid id, CurrentUser user, AlertStore alerts, CancellationToken ct) =>
        await alerts.FindAsync(user.AccountId, id, ct) is { } alert ? TypedResults.Ok(alert) : TypedResults.NotFound();

    /// <summary>Acknowledges a firing alert: someone is on it. It still resolves by itself when its condition clears. 409 when resolved already.</summary>
    static async Task<Results<Ok<AlertView>, NotFound, ProblemHttpResult>> Acknowledge(Guid id, CurrentUser user, AlertStore alerts, HttpContext http, CancellationToken ct)
    {
        var (alert, conflict) = await alerts.AcknowledgeAsync(user.AccountId, id, user.AccountId,
            AuditEvent.From(http, AlertAuditTypes.AlertAcknowledged, user.AccountId, user.AccountId), ct);
        if (alert is null)
        {
            return TypedResults.NotFound();
        }

        return conflict
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Alert resolved", detail: "This alert has resolved already; there is nothing to acknowledge.")
            : TypedResults.Ok(alert);
    }
}
