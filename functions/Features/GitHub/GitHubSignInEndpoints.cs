using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.Auth.Sessions;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.GitHub;

/// <summary>
/// Sign-in with GitHub (authorization code + state + PKCE S256, RFC 9700) and linking GitHub to an account that is
/// signed in: <c>/api/auth/github</c>. The callback's other half is in <c>GitHubSignInEndpoints.Callback.cs</c>.
/// </summary>
public static partial class GitHubSignInEndpoints
{
    public const string FlowCookie = "a67_github_flow";
    const string GroupPath = "/api/auth/github";
    const string Scope = "read:user user:email";

    public static RouteGroupBuilder MapGitHubSignIn(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup(GroupPath).WithTags("GitHub sign-in");
        group.MapGet("/start", Start);
        group.MapGet("/callback", Callback);
        group.MapPost("/link", Link).RequireAuthorization();
        group.MapDelete("/link", Unlink).RequireAuthorization();
        return group;
    }

    /// <summary>Sends the browser to GitHub to sign in; the answer comes back to <c>/callback</c>.</summary>
    static async Task<Results<RedirectHttpResult, ProblemHttpResult>> Start(GitHubFlowStore flows, IOptions<GitHubOptions> options, HttpContext http, CancellationToken ct) =>
        options.Value.IsConfigured ? TypedResults.Redirect(await BeginAsync(null, flows, options.Value, http, ct)) : NotConfigured();

    /// <summary>Starts linking GitHub to the caller's account: open <c>authorizeUrl</c> in this browser.</summary>
    static async Task<Results<Ok<GitHubLinkStart>, ProblemHttpResult>> Link(
        CurrentUser user, ExternalLoginStore logins, GitHubFlowStore flows, IOptions<GitHubOptions> options, HttpContext http, CancellationToken ct)
    {
        if (!options.Value.IsConfigured)
        {
            return NotConfigured();
        }

        if (await logins.FindSubjectAsync(user.AccountId, GitHubFlowStore.Provider, ct) is not null)
        {
            return TypedResults.Problem(statusCode: 409, title: "GitHub already linked",
                detail: "This account is already linked to a GitHub account; unlink it first (DELETE /api/auth/github/link).");
        }

        return TypedResults.Ok(new GitHubLinkStart(await BeginAsync(user, flows, options.Value, http, ct)));
    }

    /// <summary>Unlinks GitHub from the caller's account; refused when the account has no password to sign in with.</summary>
    static async Task<Results<NoContent, ProblemHttpResult>> Unlink(CurrentUser user, AccountStore accounts, ExternalLoginStore logins, HttpContext http, CancellationToken ct)
    {
        // Works without GitHub settings: it changes only our own table, and an admin may have turned GitHub off.
        if (await accounts.FindAsync(user.AccountId, ct) is not { } account)
        {
            return TypedResults.Problem(statusCode: 404, title: "No such account");
        }

        if (account.PasswordHash is null)
        {
            return TypedResults.Problem(statusCode: 409, title: "GitHub is this account's only sign-in",
                detail: "This account has no password, so unlinking GitHub would lock you out; GitHub stays linked.");
        }

        var unlinked = AuditEvent.From(http, AuditTypes.GitHubUnlinked, user.AccountId, user.AccountId);
        return await logins.UnlinkAsync(user.AccountId, GitHubFlowStore.Provider, unlinked, ct)
            ? TypedResults.NoContent()
            : TypedResults.Problem(statusCode: 404, title: "GitHub not linked", detail: "This account is not linked to a GitHub account.");
    }

    /// <summary>Stores a new flow, sets its cookie and returns GitHub's authorize URL for it.</summary>
    static async Task<string> BeginAsync(CurrentUser? user, GitHubFlowStore flows, GitHubOptions options, HttpContext http, CancellationToken ct)
    {
        var request = http.Request;
        var redirectUri = string.IsNullOrEmpty(options.CallbackUrl)
            ? $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase.ToUriComponent()}{GroupPath}/callback"
            : options.CallbackUrl;
        var (state, challenge, flowId) = await flows.StartAsync(redirectUri, user?.AccountId, user?.SessionId, ct);
        // Lax: the cookie comes back on GitHub's top-level redirect to the callback, never on a cross-site subrequest.
        http.Response.Cookies.Append(FlowCookie, flowId, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            // Behind a proxy that ends TLS the request looks like http; the configured https callback says otherwise.
            Secure = request.IsHttps || redirectUri.StartsWith("https://", StringComparison.OrdinalIgnoreCase),
            Path = GroupPath,
            MaxAge = GitHubFlowStore.Lifetime,
            IsEssential = true,
        });
        return QueryHelpers.AddQueryString(options.AuthorizeUrl, new Dictionary<string, string?>
        {
            ["client_id"] = options.ClientId,
            ["redirect_uri"] = redirectUri,
            ["scope"] = Scope,
            ["state"] = state,
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
            ["allow_signup"] = "true",
        });
    }

    static ProblemHttpResult NotConfigured() => TypedResults.Problem(statusCode: 501, title: "GitHub sign-in is not configured on this instance",
        detail: "Its admin turns it on with the settings GitHub__ClientId and GitHub__ClientSecret (see the README, 'GitHub sign-in').");

    /// <summary>What the callback uses besides the query; bound from the container.</summary>
    sealed record CallbackServices(
        GitHubFlowStore Flows,
        GitHubClient GitHub,
        ExternalLoginStore Logins,
        AccountStore Accounts,
        SessionStore Sessions,
        AccessTokens Tokens,
        AuditLog Audit,
        IOptions<GitHubOptions> Options,
        IOptions<AuthOptions> Auth,
        TwoFactorStore TwoFactor);
}
