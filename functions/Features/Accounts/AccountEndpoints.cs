using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Automator67.Functions.Features.Accounts;

public sealed record RoleRequest(string? Role);

/// <summary>The instance admin's view of every account: <c>/api/accounts</c>.</summary>
public static class AccountEndpoints
{
    const int MaxPage = 200;

    public static RouteGroupBuilder MapAccounts(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/accounts").WithTags("Accounts").RequireAuthorization(AuthRegistration.AdminPolicy);
        group.MapGet("/", List);
        group.MapGet("/{id:guid}", Get);
        group.MapPost("/{id:guid}/disable", Disable);
        group.MapPost("/{id:guid}/enable", Enable);
        group.MapPut("/{id:guid}/role", SetRole);
        return group;
    }

    static async Task<Results<Ok<AccountView[]>, ValidationProblem>> List(AccountStore accounts, Guid? after, int? limit, CancellationToken ct)
    {
        if (limit is < 1 or > MaxPage)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxPage}."] });
        }

        var page = await accounts.ListAsync(after, limit ?? 50, ct);
        return TypedResults.Ok(page.Select(AccountView.From).ToArray());
    }

    static async Task<Results<Ok<AccountView>, NotFound>> Get(Guid id, AccountStore accounts, CancellationToken ct) =>
        await accounts.FindAsync(id, ct) is { } account ? TypedResults.Ok(AccountView.From(account)) : TypedResults.NotFound();

    static Task<Results<Ok<AccountView>, NotFound, ProblemHttpResult>> Disable(Guid id, CurrentUser admin, AccountStore accounts, HttpContext http, CancellationToken ct) =>
        SetDisabled(id, true, admin, accounts, http, ct);

    static Task<Results<Ok<AccountView>, NotFound, ProblemHttpResult>> Enable(Guid id, CurrentUser admin, AccountStore accounts, HttpContext http, CancellationToken ct) =>
        SetDisabled(id, false, admin, accounts, http, ct);

    static async Task<Results<Ok<AccountView>, NotFound, ProblemHttpResult>> SetDisabled(
        Guid id, bool disabled, CurrentUser admin, AccountStore accounts, HttpContext http, CancellationToken ct)
    {
        if (disabled && id == admin.AccountId)
        {
            return TypedResults.Problem(statusCode: 409, title: "Cannot disable yourself", detail: "An admin cannot disable their own account; another admin can.");
        }

        var type = disabled ? AuditTypes.AccountDisabled : AuditTypes.AccountEnabled;
        return await accounts.SetDisabledAsync(id, disabled, AuditEvent.From(http, type, id, admin.AccountId), ct) is { } account
            ? TypedResults.Ok(AccountView.From(account))
            : TypedResults.NotFound();
    }

    static async Task<Results<Ok<AccountView>, NotFound, ValidationProblem, ProblemHttpResult>> SetRole(
        Guid id, RoleRequest request, CurrentUser admin, AccountStore accounts, HttpContext http, CancellationToken ct)
    {
        if (request.Role is not (Roles.User or Roles.Admin))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["role"] = ["role must be 'user' or 'admin'."] });
        }

        if (id == admin.AccountId && request.Role != Roles.Admin)
        {
            return TypedResults.Problem(statusCode: 409, title: "Cannot demote yourself", detail: "An admin cannot remove their own admin role; another admin can.");
        }

        var audit = AuditEvent.From(http, AuditTypes.RoleChanged, id, admin.AccountId, new Dictionary<string, object?> { ["role"] = request.Role });
        return await accounts.SetRoleAsync(id, request.Role, audit, ct) is { } account ? TypedResults.Ok(AccountView.From(account)) : TypedResults.NotFound();
    }
}
