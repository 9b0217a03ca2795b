using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Alerts;

/// <summary>The account's webhooks (where alert notifications go) and their delivery history: <c>/api/webhooks</c>.</summary>
public static class WebhookEndpoints
{
    public const int MaxNameLength = 100;
    public const int DefaultDeliveries = 50;
    public const int MaxDeliveries = 500;

    public static RouteGroupBuilder MapWebhooks(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/webhooks").WithTags("Alerts");
        group.MapPost("/", Create).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        group.MapDelete("/{id:guid}", Delete).RequireAuthorization(ScopePolicies.Deploy);
        group.MapPost("/{id:guid}/rotate-secret", RotateSecret).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/{id:guid}/deliveries", Deliveries).RequireAuthorization(ScopePolicies.Read);
        return group;
    }

    /// <summary>Creates a webhook; the answer carries its signing secret, shown this once.</summary>
    static async Task<Results<Created<CreatedWebhook>, ValidationProblem, ProblemHttpResult>> Create(
        CreateWebhookRequest request, CurrentUser user, WebhookStore webhooks, WebhookUrlPolicy policy, HttpContext http, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var name = request.Name?.Trim() ?? "";
        if (name.Length == 0)
        {
            errors["name"] = ["A name is required, e.g. 'ops pager'."];
        }
        else if (name.Length > MaxNameLength || name.Any(char.IsControl) || name.Any(char.IsSurrogate))
        {
            errors["name"] = [$"The name must have at most {MaxNameLength} characters, none of them control characters."];
        }

        if (policy.Problem(request.Url, http.Request.Host) is { } urlProblem)
        {
            errors["url"] = [urlProblem];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        try
        {
            var webhook = await webhooks.CreateAsync(user.AccountId, name, request.Url!, AuditEvent.From(http, AlertAuditTypes.WebhookCreated, user.AccountId, user.AccountId), ct);
            http.Response.Headers.CacheControl = "no-store";
            return TypedResults.Created($"/api/webhooks/{webhook.Id}",
                new CreatedWebhook(webhook.Id, webhook.Name, webhook.Url, webhook.Secret, webhook.SecretHint, webhook.CreatedAt));
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: WebhookStore.NameIndex })
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Name taken", detail: $"This account already has a webhook named '{name}'.");
        }
    }

    static async Task<Ok<WebhookView[]>> List(CurrentUser user, WebhookStore webhooks, CancellationToken ct) =>
        TypedResults.Ok((await webhooks.ListAsync(user.AccountId, ct)).Select(w => w.View()).ToArray());

    static async Task<Results<Ok<WebhookView>, NotFound>> Get(Guid id, CurrentUser user, WebhookStore webhooks, CancellationToken ct) =>
        await webhooks.FindAsync(user.AccountId, id, ct) is { } webhook ? TypedResults.Ok(webhook.View()) : TypedResults.NotFound();

    /// <summary>Deletes the webhook, its links to rules and its delivery history; its pending deliveries are not sent.</summary>
    static async Task<Results<NoContent, NotFound>> Delete(Guid id, CurrentUser user, WebhookStore webhooks, HttpContext http, CancellationToken ct) =>
        await webhooks.DeleteAsync(user.AccountId, id, AuditEvent.From(http, AlertAuditTypes.WebhookDeleted, user.AccountId, user.AccountId), ct)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();

    /// <summary>A new signing secret, shown this once; every attempt from now on (retries included) is signed with it.</summary>
    static async Task<Results<Ok<RotatedWebhookSecret>, NotFound>> RotateSecret(Guid id, CurrentUser user, WebhookStore webhooks, HttpContext http, CancellationToken ct)
    {
        if (await webhooks.RotateSecretAsync(user.AccountId, id, AuditEvent.From(http, AlertAuditTypes.WebhookSecretRotated, user.AccountId, user.AccountId), ct) is not { } webhook)
        {
            return TypedResults.NotFound();
        }

        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new RotatedWebhookSecret(webhook.Id, webhook.Secret, webhook.SecretHint, webhook.SecretRotatedAt!.Value));
    }

    /// <summary>The webhook's deliveries, newest first, each with every attempt (status code or error, duration).</summary>
    /// <param name="id">The webhook.</param>
    /// <param name="user">The caller.</param>
    /// <param name="webhooks">The webhook store.</param>
    /// <param name="deliveries">The delivery store.</param>
    /// <param name="limit">How many, 1-500 (default 50).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<DeliveryView[]>, NotFound, ValidationProblem>> Deliveries(
        Guid id, CurrentUser user, WebhookStore webhooks, DeliveryStore deliveries, int? limit, CancellationToken ct)
    {
        if (limit is < 1 or > MaxDeliveries)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxDeliveries}."] });
        }

        if (await webhooks.FindAsync(user.AccountId, id, ct) is null)
        {
            return TypedResults.NotFound();
        }

        return TypedResults.Ok(await deliveries.ListAsync(user.AccountId, id, null, limit ?? DefaultDeliveries, ct));
    }
}
