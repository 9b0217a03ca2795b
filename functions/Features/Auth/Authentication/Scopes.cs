using Microsoft.AspNetCore.Authorization;

namespace Automator67.Functions.Features.Auth.Authentication;

/// <summary>What a personal access token may be allowed to do. A signed-in session holds every scope.</summary>
public static class TokenScopes
{
    public const string Read = "read";
    public const string Deploy = "deploy";
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Read, Deploy, Admin];
}

/// <summary>
/// Authorization policies by scope, for routes to name: reads require <see cref="Read"/>, changes
/// <see cref="Deploy"/>, the instance admin's routes <see cref="Admin"/> (with the admin role, see
/// <see cref="AuthRegistration.AdminPolicy"/>). A session satisfies all of them; a personal access token only its own.
/// </summary>
public static class ScopePolicies
{
    public const string Read = "scope:read";
    public const string Deploy = "scope:deploy";
    public const string Admin = "scope:admin";

    public static AuthorizationBuilder AddScopePolicies(this AuthorizationBuilder builder) => builder
        .AddPolicy(Read, policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(TokenScopes.Read)))
        .AddPolicy(Deploy, policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(TokenScopes.Deploy)))
        .AddPolicy(Admin, policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(TokenScopes.Admin)));

    /// <summary>Leaves a sentence for the 403 problem, so a token's holder learns what it lacks instead of a bare "forbidden".</summary>
    internal static void Explain(AuthorizationHandlerContext context, IAuthorizationHandler handler, string why)
    {
        context.Fail(new AuthorizationFailureReason(handler, why));
        if (context.Resource is HttpContext http)
        {
            http.Items[BearerAuthenticationHandler.ForbiddenReasonKey] = why;
        }
    }
}

/// <summary>Met by a signed-in session, or by a personal access token that holds <see cref="Scope"/>.</summary>
public sealed class ScopeRequirement(string scope) : AuthorizationHandler<ScopeRequirement>, IAuthorizationRequirement
{
    public string Scope => scope;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (CurrentUser.From(context.User) is { } user)
        {
            if (user.HasScope(requirement.Scope))
            {
                context.Succeed(requirement);
            }
            else
            {
                ScopePolicies.Explain(context, this, $"This personal access token lacks the '{requirement.Scope}' scope.");
            }
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Met only by a signed-in session: routes that act on the session itself (logout, the session list, the password)
/// make no sense for, and must not be reachable with, a long-lived token.
/// </summary>
public sealed class SessionRequirement : AuthorizationHandler<SessionRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, SessionRequirement requirement)
    {
        if (CurrentUser.From(context.User) is { } user)
        {
            if (user.IsSession)
            {
                context.Succeed(requirement);
            }
            else
            {
                ScopePolicies.Explain(context, this, "This route needs a signed-in session; a personal access token cannot use it.");
            }
        }

        return Task.CompletedTask;
    }
}
