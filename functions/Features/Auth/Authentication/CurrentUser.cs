using System.Reflection;
using System.Security.Claims;
using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Automator67.Functions.Features.Auth.Authentication;

/// <summary>
/// The signed-in caller, bound as a handler parameter on routes that require authorization. Every query for an
/// account's objects filters by <see cref="AccountId"/>; another account's object is then indistinguishable from
/// one that does not exist (404).
/// </summary>
/// <remarks>
/// A caller is either a signed-in session (an access token) or a personal access token (<see cref="TokenId"/>).
/// A token has no session: its <see cref="SessionId"/> is <see cref="Guid.Empty"/>, and the routes that use the
/// session require <see cref="AuthRegistration.SessionPolicy"/>.
/// </remarks>
public sealed record CurrentUser(Guid AccountId, Guid SessionId, string Role)
{
    public bool IsAdmin => Role == Roles.Admin;

    /// <summary>The personal access token the caller presented; null for a signed-in session.</summary>
    public Guid? TokenId { get; init; }

    /// <summary>What the caller may do (within its role): a session holds every scope, a token only its own.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = TokenScopes.All;

    public bool IsSession => TokenId is null;

    public bool HasScope(string scope) => Scopes.Contains(scope);

    public static CurrentUser? From(ClaimsPrincipal principal)
    {
        if (!Guid.TryParse(principal.FindFirst(JwtRegisteredClaimNames.Sub)?.Value, out var account))
        {
            return null;
        }

        var role = principal.FindFirst(AccessTokens.RoleClaim)?.Value ?? Roles.User;
        if (Guid.TryParse(principal.FindFirst(PersonalAccessTokens.TokenIdClaim)?.Value, out var token))
        {
            return new CurrentUser(account, Guid.Empty, role)
            {
                TokenId = token,
                Scopes = [.. principal.FindAll(AccessTokens.ScopeClaim).Select(c => c.Value)],
            };
        }

        return Guid.TryParse(principal.FindFirst(AccessTokens.SessionClaim)?.Value, out var session) ? new CurrentUser(account, session, role) : null;
    }

    public static ValueTask<CurrentUser?> BindAsync(HttpContext context, ParameterInfo parameter) =>
        ValueTask.FromResult<CurrentUser?>(From(context.User) ?? throw new InvalidOperationException($"{parameter.Name}: the route must require authorization"));
}
