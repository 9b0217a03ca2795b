using System.Buffers;
using System.Text;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Automator67.Functions.Features.Tokens;

/// <summary>
/// The caller's personal access tokens for the CLI and CI: <c>/api/tokens</c>. Managing tokens takes a signed-in
/// session or a token with the <c>admin</c> scope; listing them takes <c>read</c>.
/// </summary>
public static class TokenEndpoints
{
    public const int MaxNameLength = 100;
    public const int DefaultLifetimeDays = 90;
    public const int MaxLifetimeDays = 365;

    public static RouteGroupBuilder MapTokens(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/tokens").WithTags("Tokens");
        group.MapPost("/", Create).RequireAuthorization(ScopePolicies.Admin);
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        group.MapDelete("/{id:guid}", Revoke).RequireAuthorization(ScopePolicies.Admin);
        return group;
    }

    static async Task<Results<Created<CreatedToken>, ValidationProblem, ProblemHttpResult>> Create(
        CreateTokenRequest request, CurrentUser user, PersonalAccessTokenStore tokens, HttpContext http, CancellationToken ct)
    {
        var (name, scopes, days, errors) = Check(request);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // The role is the account's current one (read at authentication), so a demoted admin cannot mint admin tokens.
        if (scopes.Contains(TokenScopes.Admin) && !user.IsAdmin)
        {
            return TypedResults.Problem(statusCode: 403, title: "Scope not allowed", detail: "Only an admin account may create a token with the 'admin' scope.");
        }

        var created = AuditEvent.From(http, AuditTypes.TokenCreated, user.AccountId, user.AccountId, ByToken(user));
        var (token, secret) = await tokens.CreateAsync(user.AccountId, name, scopes, TimeSpan.FromDays(days), created, ct);
        // The one response that carries the secret must not be kept by any cache on the way.
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"/api/tokens/{token.Id}", new CreatedToken(token.Id, token.Name, token.Scopes, secret, token.Hint, token.CreatedAt, token.ExpiresAt));
    }

    static async Task<Ok<TokenView[]>> List(CurrentUser user, PersonalAccessTokenStore tokens, CancellationToken ct) =>
        TypedResults.Ok((await tokens.ListAsync(user.AccountId, ct)).Select(TokenView.From).ToArray());

    static async Task<Results<Ok<TokenView>, NotFound>> Get(Guid id, CurrentUser user, PersonalAccessTokenStore tokens, CancellationToken ct) =>
        await tokens.FindAsync(user.AccountId, id, ct) is { } token ? TypedResults.Ok(TokenView.From(token)) : TypedResults.NotFound();

    static async Task<Results<NoContent, NotFound>> Revoke(
        Guid id, CurrentUser user, PersonalAccessTokenStore tokens, PersonalAccessTokens personalAccessTokens, HttpContext http, CancellationToken ct)
    {
        var revoked = AuditEvent.From(http, AuditTypes.TokenRevoked, user.AccountId, user.AccountId, ByToken(user));
        if (await tokens.RevokeAsync(user.AccountId, id, revoked, ct) is not { } hash)
        {
            return TypedResults.NotFound();
        }

        personalAccessTokens.Forget(hash);
        return TypedResults.NoContent();
    }

    // When a token manages tokens, the audit says which one did it.
    static Dictionary<string, object?>? ByToken(CurrentUser user) =>
        user.TokenId is { } tokenId ? new Dictionary<string, object?> { ["byTokenId"] = tokenId } : null;

    static (string Name, string[] Scopes, int Days, Dictionary<string, string[]> Errors) Check(CreateTokenRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        var name = request.Name?.Trim() ?? "";
        if (name.Length == 0)
        {
            errors["name"] = ["A name is required, e.g. 'ci deploy'."];
        }
        else if (name.Length > MaxNameLength)
        {
            errors["name"] = [$"The name must have at most {MaxNameLength} characters."];
        }
        else if (request.Name!.Any(char.IsControl) || !IsWellFormed(name))
        {
            errors["name"] = ["The name must not contain control characters or broken Unicode."];
        }

        var requested = request.Scopes ?? [];
        if (requested.Length == 0)
        {
            errors["scopes"] = ["At least one scope is required: read, deploy or admin."];
        }
        else if (requested.Any(scope => scope is null || !TokenScopes.All.Contains(scope)))
        {
            errors["scopes"] = ["Scopes must be among read, deploy and admin."];
        }

        // One canonical order, without repeats, whatever the request's.
        string[] scopes = [.. TokenScopes.All.Where(scope => requested.Contains(scope))];
        var days = request.ExpiresInDays ?? DefaultLifetimeDays;
        if (days is < 1 or > MaxLifetimeDays)
        {
            errors["expiresInDays"] = [$"expiresInDays must be between 1 and {MaxLifetimeDays} (default {DefaultLifetimeDays})."];
        }

        return (name, scopes, days, errors);
    }

    // A lone surrogate is valid JSON ("\ud800") but not text: PostgreSQL would refuse it with an error, not a 400.
    static bool IsWellFormed(string text)
    {
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out _, out var consumed) != OperationStatus.Done)
            {
                return false;
            }

            rest = rest[consumed..];
        }

        return true;
    }
}
