using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Auth.TwoFactor;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Automator67.Functions.Features.GitHub;

/// <summary>
/// The callback: check the flow (cookie + state, once), exchange the code with the PKCE verifier, ask GitHub who the
/// user is, then sign in (by GitHub id only) or link (to the account that started the flow).
/// </summary>
public static partial class GitHubSignInEndpoints
{
    /// <summary>GitHub sends the browser here with <c>code</c> and <c>state</c>, or with <c>error</c> and <c>state</c>.</summary>
    static async Task<Results<Ok<TokenResponse>, Ok<TwoFactorChallenge>, Ok<AccountView>, ValidationProblem, ProblemHttpResult>> Callback(
        string? code, string? state, string? error, [AsParameters] CallbackServices s, HttpContext http, CancellationToken ct)
    {
        if (!s.Options.Value.IsConfigured)
        {
            return NotConfigured();
        }

        var flowId = http.Request.Cookies[FlowCookie];
        // The cookie has done its job whatever happens next.
        http.Response.Cookies.Delete(FlowCookie, new CookieOptions { Path = GroupPath, HttpOnly = true, SameSite = SameSiteMode.Lax, Secure = http.Request.IsHttps });
        var stateProblem = string.IsNullOrEmpty(state) ? "state is required: GitHub sends it back with the code."
            : !GitHubFlowStore.IsWellFormed(state) ? "state is not one this instance issued. Start the sign-in again." : null;
        var cookieProblem = string.IsNullOrEmpty(flowId) ? $"The {FlowCookie} cookie is missing: finish the sign-in in the browser that started it, with cookies enabled."
            : !GitHubFlowStore.IsWellFormed(flowId) ? $"The {FlowCookie} cookie is malformed. Start the sign-in again." : null;
        if (stateProblem is not null || cookieProblem is not null)
        {
            await FailAsync(s, http, stateProblem is not null ? "state missing or malformed" : "flow cookie missing");
            return Invalid(("state", stateProblem), ("cookie", cookieProblem));
        }

        var check = await s.Flows.UseAsync(state!, flowId!, ct);
        if (check is FlowCheck.Refused refused)
        {
            await FailAsync(s, http, refused.Reason);
            return Invalid(("state", refused.Detail));
        }

        var flow = ((FlowCheck.Valid)check).Flow;
        if (error is not null)
        {
            // access_denied: the user pressed Cancel at GitHub. Anything else is GitHub refusing our request (configuration).
            var cancelled = error == "access_denied";
            await FailAsync(s, http, cancelled ? "cancelled" : "github error", flow.AccountId, githubError: GitHubClient.ErrorCode(error));
            return cancelled
                ? TypedResults.Problem(statusCode: 401, title: "GitHub sign-in was cancelled", detail: "You declined at GitHub; nothing changed here.")
                : TypedResults.Problem(statusCode: 502, title: "GitHub refused the sign-in", detail: $"GitHub answered '{GitHubClient.ErrorCode(error)}'; the instance's GitHub settings may be wrong.");
        }

        if (string.IsNullOrEmpty(code) || code.Length > 256 || !code.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~'))
        {
            await FailAsync(s, http, "code missing or malformed", flow.AccountId);
            return Invalid(("code", string.IsNullOrEmpty(code) ? "code is required: GitHub sends it back with the state." : "code is not one GitHub issues."));
        }

        GitHubIdentity identity;
        try
        {
            var exchange = await s.GitHub.ExchangeCodeAsync(code, flow.RedirectUri, flow.CodeVerifier, ct);
            if (exchange is TokenExchange.Refused codeRefused)
            {
                await FailAsync(s, http, "code refused", flow.AccountId, githubError: codeRefused.Error);
                return Invalid(("code", $"GitHub refused the code ({codeRefused.Error}). Start the sign-in again."));
            }

            identity = await s.GitHub.GetIdentityAsync(((TokenExchange.Issued)exchange).AccessToken, ct);
        }
        catch (GitHubUnavailableException)
        {
            await FailAsync(s, http, "github unavailable", flow.AccountId);
            return TypedResults.Problem(statusCode: 502, title: "GitHub could not be reached", detail: "GitHub did not answer as expected; try again in a moment.");
        }

        return flow.AccountId is { } accountId
            ? await CompleteLinkAsync(s, http, accountId, flow.SessionId!.Value, identity, ct)
            : await CompleteSignInAsync(s, http, identity, ct);
    }

    static async Task<Results<Ok<TokenResponse>, Ok<TwoFactorChallenge>, Ok<AccountView>, ValidationProblem, ProblemHttpResult>> CompleteSignInAsync(
        CallbackServices s, HttpContext http, GitHubIdentity identity, CancellationToken ct)
    {
        var account = await s.Logins.FindAccountAsync(GitHubFlowStore.Provider, identity.Subject, identity.Login, ct);
        if (account is null)
        {
            // A new GitHub user: only now does the email matter, and only a verified primary one.
            var email = EmailAddress.Normalize(identity.VerifiedPrimaryEmail, out _);
            if (email is null)
            {
                await FailAsync(s, http, "no verified primary email", identity: identity);
                return TypedResults.Problem(statusCode: 403, title: "No verified email",
                    detail: "Your GitHub account has no verified primary email; verify one at GitHub and sign in again.");
            }

            if (await s.Accounts.FindByEmailAsync(email, ct) is { } owner)
            {
                return await EmailTakenAsync(s, http, owner.Id, identity);
            }

            if (!s.Auth.Value.AllowSignup)
            {
                await FailAsync(s, http, "sign-up closed", identity: identity);
                return TypedResults.Problem(statusCode: 403, title: "Sign-up is closed", detail: "This instance does not accept sign-ups; ask its admin for an account.");
            }

            var detail = Detail(identity);
            account = await s.Logins.CreateAccountAsync(email, GitHubFlowStore.Provider, identity.Subject, identity.Login,
                AuditEvent.From(http, AuditTypes.Signup, null, null, new Dictionary<string, object?>(detail) { ["via"] = "github" }),
                AuditEvent.From(http, AuditTypes.GitHubLinked, null, null, detail), ct);
            // Null: a concurrent callback created the account or took the email first; answer as if it had come first.
            account ??= await s.Logins.FindAccountAsync(GitHubFlowStore.Provider, identity.Subject, identity.Login, ct);
            if (account is null)
            {
                return await EmailTakenAsync(s, http, null, identity);
            }
        }

        if (account.IsDisabled)
        {
            await FailAsync(s, http, "account disabled", account.Id, identity);
            return TypedResults.Problem(statusCode: 403, title: "Account disabled", detail: "The account linked to this GitHub account is disabled.");
        }

        // GitHub stands in for the password, not for the second factor: with two-factor on, a challenge as after a password.
        if (await s.TwoFactor.IsEnabledAsync(account.Id, ct))
        {
            return TypedResults.Ok(await TwoFactorEndpoints.ChallengeAsync(account, s.TwoFactor, http, ct));
        }

        // As AuthEndpoints signs in, with this sign-in's own audit type (its detail names the session).
        var (session, refreshToken) = await s.Sessions.StartAsync(account, RequestOrigin.UserAgent(http), RequestOrigin.Ip(http),
            AuditEvent.From(http, AuditTypes.GitHubLogin, account.Id, account.Id), ct);
        var access = s.Tokens.Issue(account.Id, session.Id, account.Role);
        return TypedResults.Ok(new TokenResponse(access.Token, "Bearer", (int)access.Lifetime.TotalSeconds, refreshToken, session.Id, AccountView.From(account)));
    }

    static async Task<Results<Ok<TokenResponse>, Ok<TwoFactorChallenge>, Ok<AccountView>, ValidationProblem, ProblemHttpResult>> CompleteLinkAsync(
        CallbackServices s, HttpContext http, Guid accountId, Guid sessionId, GitHubIdentity identity, CancellationToken ct)
    {
        // The flow was started by this account's session; a logout or a disabled account since then ends it.
        if (await s.Sessions.ActiveRoleAsync(accountId, sessionId, ct) is null)
        {
            await FailAsync(s, http, "link session ended", accountId, identity);
            return TypedResults.Problem(statusCode: 401, title: "Session ended", detail: "The session that started linking GitHub has ended; sign in and start again.");
        }

        var linked = AuditEvent.From(http, AuditTypes.GitHubLinked, accountId, accountId, Detail(identity));
        switch (await s.Logins.LinkAsync(accountId, GitHubFlowStore.Provider, identity.Subject, identity.Login, linked, ct))
        {
            case LinkOutcome.IdentityLinkedElsewhere:
                await FailAsync(s, http, "github account linked to another account", accountId, identity);
                return TypedResults.Problem(statusCode: 409, title: "GitHub account linked elsewhere",
                    detail: "This GitHub account is already linked to another account here; unlink it there first.");
            case LinkOutcome.AccountHasAnotherIdentity:
                await FailAsync(s, http, "account linked to another github account", accountId, identity);
                return TypedResults.Problem(statusCode: 409, title: "GitHub already linked",
                    detail: "This account is already linked to a different GitHub account; unlink it first (DELETE /api/auth/github/link).");
        }

        return await s.Accounts.FindAsync(accountId, ct) is { } account
            ? TypedResults.Ok(AccountView.From(account))
            : TypedResults.Problem(statusCode: 404, title: "No such account");
    }

    static async Task<ProblemHttpResult> EmailTakenAsync(CallbackServices s, HttpContext http, Guid? ownerId, GitHubIdentity identity)
    {
        // Never link by email: anyone can put anyone's address on a GitHub account. The owner proves it by signing in.
        await FailAsync(s, http, "email belongs to an existing account", ownerId, identity);
        return TypedResults.Problem(statusCode: 409, title: "Sign in with your password to link GitHub",
            detail: "An account with your GitHub email already exists. Sign in with its password, then link GitHub from your account (POST /api/auth/github/link).");
    }

    static Task FailAsync(CallbackServices s, HttpContext http, string reason, Guid? accountId = null, GitHubIdentity? identity = null, string? githubError = null)
    {
        var detail = identity is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(Detail(identity));
        detail["reason"] = reason;
        if (githubError is not null)
        {
            detail["githubError"] = githubError;
        }

        // The request may be aborted by now; the event is still written.
        return s.Audit.WriteAsync(AuditEvent.From(http, AuditTypes.GitHubFailed, accountId, null, detail), CancellationToken.None);
    }

    static Dictionary<string, object?> Detail(GitHubIdentity identity) => new() { ["githubId"] = identity.Subject, ["githubLogin"] = identity.Login };

    static ValidationProblem Invalid(params (string Field, string? Problem)[] problems) =>
        TypedResults.ValidationProblem(problems.Where(p => p.Problem is not null).ToDictionary(p => p.Field, p => new[] { p.Problem! }));
}
