using System.Reflection;
using System.Security.Claims;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Automator67.Functions.Features.Auth.Authentication;

/// <summary>
/// The signed-in caller, bound as a handler parameter on routes that require authorization. Every query for an
/// account's objects filters by <see cref="AccountId"/>; another account's object is then indistinguishable from
/// one that does not exist (404).
/// </summary>
public sealed record CurrentUser(Guid AccountId, Guid SessionId, string Role)
{
    public bool IsAdmin => Role == Roles.Admin;

    public static CurrentUser? From(ClaimsPrincipal principal) =>
        Guid.TryParse(principal.FindFirst(JwtRegisteredClaimNames.Sub)?.Value, out var account)
        && Guid.TryParse(principal.FindFirst(AccessTokens.SessionClaim)?.Value, out var session)
            ? new CurrentUser(account, session, principal.FindFirst(AccessTokens.RoleClaim)?.Value ?? Roles.User)
            : null;

    public static ValueTask<CurrentUser?> BindAsync(HttpContext context, ParameterInfo parameter) =>
        ValueTask.FromResult<CurrentUser?>(From(context.User) ?? throw new InvalidOperationException($"{parameter.Name}: the route must require authorization"));
}
