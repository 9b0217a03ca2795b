using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Alerts;

/// <summary>The account's alert rules: <c>/api/alert-rules</c>. See docs/alerts.md for the kinds.</summary>
public static class AlertRuleEndpoints
{
    public static RouteGroupBuilder MapAlertRules(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/alert-rules").WithTags("Alerts");
        group.MapPost("/", Create).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        group.MapPatch("/{id:guid}", Patch).RequireAuthorization(ScopePolicies.Deploy);
        group.MapDelete("/{id:guid}", Delete).RequireAuthorization(ScopePolicies.Deploy);
        return group;
    }

    static async Task<Results<Created<AlertRuleView>, ValidationProblem, ProblemHttpResult>> Create(
        CreateAlertRuleRequest request, CurrentUser user, AlertRuleStore rules, WebhookStore webhooks, HttpContext http, CancellationToken ct)
    {
        var errors = AlertRuleValidation.Problems(request.Name, request.Kind, request.AppId, request.NodeId, request.Threshold, request.DurationSeconds, request.WebhookIds);
        var webhookIds = (request.WebhookIds ?? []).Distinct().ToArray();
        await CheckReferencesAsync(errors, user.AccountId, request.AppId, request.NodeId, webhookIds, rules, webhooks, ct);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var fields = new AlertRuleFields(request.Name!.Trim(), request.Kind!, request.AppId, request.NodeId, request.Threshold, request.DurationSeconds, webhookIds,
            request.Enabled ?? true);
        try
        {
            var rule = await rules.CreateAsync(user.AccountId, fields, AuditEvent.From(http, AlertAuditTypes.RuleCreated, user.AccountId, user.AccountId), ct);
            return TypedResults.Created($"/api/alert-rules/{rule.Id}", rule);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: AlertRuleStore.NameIndex })
        {
            return NameTaken(fields.Name);
        }
    }

    static async Task<Ok<AlertRuleView[]>> List(CurrentUser user, AlertRuleStore rules, CancellationToken ct) =>
        TypedResults.Ok((await rules.ListAsync(user.AccountId, ct)).ToArray());

    static async Task<Results<Ok<AlertRuleView>, NotFound>> Get(Guid id, CurrentUser user, AlertRuleStore rules, CancellationToken ct) =>
        await rules.FindAsync(user.AccountId, id, ct) is { } rule ? TypedResults.Ok(rule) : TypedResults.NotFound();

    /// <summary>Changes name, threshold, durationSeconds, webhookIds (replaced whole) or enabled. Disabling resolves the rule's open alerts at the next evaluation.</summary>
    static async Task<Results<Ok<AlertRuleView>, NotFound, ValidationProblem, ProblemHttpResult>> Patch(
        Guid id, PatchAlertRuleRequest request, CurrentUser user, AlertRuleStore rules, WebhookStore webhooks, HttpContext http, CancellationToken ct)
    {
        if (await rules.FindAsync(user.AccountId, id, ct) is not { } current)
        {
            return TypedResults.NotFound();
        }

        var merged = new AlertRuleFields(request.Name ?? current.Name, current.Kind, current.AppId, current.NodeId, request.Threshold ?? current.Threshold,
            request.DurationSeconds ?? current.DurationSeconds, (request.WebhookIds ?? current.WebhookIds).Distinct().ToArray(), request.Enabled ?? current.Enabled);
        var errors = AlertRuleValidation.Problems(merged.Name, merged.Kind, merged.AppId, merged.NodeId, merged.Threshold, merged.DurationSeconds, merged.WebhookIds);
        if (request is { Name: null, Threshold: null, DurationSeconds: null, WebhookIds: null, Enabled: null })
        {
            errors["body"] = ["Send at least one of name, threshold, durationSeconds, webhookIds, enabled."];
        }

        if (request.WebhookIds is not null)
        {
            await CheckReferencesAsync(errors, user.AccountId, null, null, merged.WebhookIds, rules, webhooks, ct);
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        try
        {
            var updated = await rules.UpdateAsync(user.AccountId, id, merged with { Name = merged.Name.Trim() },
                AuditEvent.From(http, AlertAuditTypes.RuleUpdated, user.AccountId, user.AccountId), ct);
            return updated is null ? TypedResults.NotFound() : TypedResults.Ok(updated);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: AlertRuleStore.NameIndex })
        {
            return NameTaken(merged.Name.Trim());
        }
    }

    /// <summary>Deletes the rule, with its alerts and their delivery history (no resolution is sent).</summary>
    static async Task<Results<NoContent, NotFound>> Delete(Guid id, CurrentUser user, AlertRuleStore rules, HttpContext http, CancellationToken ct) =>
        await rules.DeleteAsync(user.AccountId, id, AuditEvent.From(http, AlertAuditTypes.RuleDeleted, user.AccountId, user.AccountId), ct)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();

    // Apps, nodes and webhooks of another account are as unknown as ones that do not exist.
    static async Task CheckReferencesAsync(Dictionary<string, string[]> errors, Guid accountId, Guid? appId, Guid? nodeId, Guid[] webhookIds,
        AlertRuleStore rules, WebhookStore webhooks, CancellationToken ct)
    {
        if (appId is { } app && !errors.ContainsKey("appId") && !await rules.OwnsAsync(accountId, "apps", app, ct))
        {
            errors["appId"] = [$"There is no app {app} in this account."];
        }

        if (nodeId is { } node && !errors.ContainsKey("nodeId") && !await rules.OwnsAsync(accountId, "nodes", node, ct))
        {
            errors["nodeId"] = [$"There is no node {node} in this account."];
        }

        if (!errors.ContainsKey("webhookIds") && await webhooks.UnknownAsync(accountId, webhookIds, ct) is { Length: > 0 } unknown)
        {
            errors["webhookIds"] = [$"Unknown webhook(s): {string.Join(", ", unknown)}. Create them with POST /api/webhooks first."];
        }
    }

    static ProblemHttpResult NameTaken(string name) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Name taken", detail: $"This account already has an alert rule named '{name}'.");
}
