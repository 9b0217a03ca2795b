using Hangfire.Dashboard;
using Microsoft.AspNetCore.Authentication;

namespace Automator67.Functions.Features.Auth.Authentication;

/// <summary>
/// The Hangfire dashboard belongs to the instance admin: an admin's bearer token opens it (a personal access token
/// only with the <c>admin</c> scope, like <see cref="AuthRegistration.AdminPolicy"/>).
/// </summary>
public sealed class AdminDashboardAuthorization : IDashboardAsyncAuthorizationFilter
{
    public async Task<bool> AuthorizeAsync(DashboardContext context)
    {
        var http = context.GetHttpContext();
        var result = await http.AuthenticateAsync(BearerAuthenticationHandler.SchemeName);
        return result.Succeeded && CurrentUser.From(result.Principal!) is { IsAdmin: true } admin && admin.HasScope(TokenScopes.Admin);
    }
}
