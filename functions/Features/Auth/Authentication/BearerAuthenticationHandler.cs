using System.Security.Claims;
using System.Text.Encodings.Web;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Sessions;
using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Automator67.Functions.Features.Auth.Authentication;

/// <summary>
/// <c>Authorization: Bearer &lt;access token&gt;</c>. Beyond the token's own checks, the account must be enabled and the
/// session not revoked; that answer is cached for a few seconds, so logout and disabling take effect within that
/// time on every instance, well inside a token's lifetime. A personal access token (<c>a67_pat_…</c>) is checked
/// by <see cref="PersonalAccessTokens"/> instead, with the same cache time.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AccessTokens tokens,
    SessionStore sessions,
    IMemoryCache cache,
    AuditLog audit,
    IProblemDetailsService problems,
    PersonalAccessTokens personalAccessTokens) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";
    public static readonly TimeSpan ActiveCheckCacheTime = TimeSpan.FromSeconds(5);
    const string FailureKey = "a67.auth.failure";

    /// <summary>Where an authorization requirement leaves the sentence that explains a 403 (see <see cref="ScopePolicies"/>).</summary>
    public const string ForbiddenReasonKey = "a67.auth.forbidden";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > 8192)
        {
            return Fail("the Authorization header must be 'Bearer <token>'");
        }

        var bearer = header["Bearer ".Length..].Trim();
        if (bearer.StartsWith(PersonalAccessTokens.Prefix, StringComparison.Ordinal))
        {
            var (principal, refusal) = await personalAccessTokens.AuthenticateAsync(bearer, Context.RequestAborted);
            return principal is null ? Fail(refusal!) : AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
        }

        var (identity, problem) = await tokens.ValidateAsync(bearer);
        if (identity is null)
        {
            return Fail(problem!);
        }

        if (!Guid.TryParse(identity.FindFirst(JwtRegisteredClaimNames.Sub)?.Value, out var accountId)
            || !Guid.TryParse(identity.FindFirst(AccessTokens.SessionClaim)?.Value, out var sessionId))
        {
            return Fail("the token is malformed or invalid");
        }

        var role = await cache.GetOrCreateAsync((accountId, sessionId), entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = ActiveCheckCacheTime;
            return sessions.ActiveRoleAsync(accountId, sessionId, Context.RequestAborted);
        });
        if (role is null)
        {
            return Fail("the session has ended");
        }

        if (identity.FindFirst(AccessTokens.RoleClaim) is { } claimed && claimed.Value != role)
        {
            identity.RemoveClaim(claimed);
            identity.AddClaim(new Claim(AccessTokens.RoleClaim, role));
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureKey] = reason;
        return AuthenticateResult.Fail(reason);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = Context.Items[FailureKey] as string;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = failure is null ? "Bearer" : "Bearer error=\"invalid_token\"";
        if (failure is not null)
        {
            await audit.WriteAsync(AuditEvent.From(Context, AuditTypes.AuthorizationFailed, null, null,
                new Dictionary<string, object?> { ["reason"] = failure, ["path"] = Request.Path.Value }), Context.RequestAborted);
        }

        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 401, Title = "Unauthorized", Detail = failure is null ? "Sign in and send 'Authorization: Bearer <token>'." : $"The bearer token was refused: {failure}." },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var user = CurrentUser.From(Context.User);
        var why = Context.Items[ForbiddenReasonKey] as string;
        var detail = new Dictionary<string, object?> { ["reason"] = "forbidden", ["path"] = Request.Path.Value };
        if (user?.TokenId is { } tokenId)
        {
            detail["tokenId"] = tokenId;
        }

        if (why is not null)
        {
            detail["why"] = why;
        }

        await audit.WriteAsync(AuditEvent.From(Context, AuditTypes.AuthorizationFailed, user?.AccountId, user?.AccountId, detail), Context.RequestAborted);
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 403, Title = "Forbidden", Detail = why ?? "Your account may not do this." },
        });
    }
}
