using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Abuse;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.Auth.Passwords;
using Automator67.Functions.Features.Auth.Sessions;
using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Auth.TwoFactor;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Auth;

/// <summary>Sign-up, sign-in, token refresh and the caller's own sessions: <c>/api/auth</c>.</summary>
public static class AuthEndpoints
{
    const string InvalidCredentials = "The email or password is wrong.";

    public static RouteGroupBuilder MapAuth(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/.well-known/jwks.json", (SigningKeyRing keys) => TypedResults.Ok(keys.Jwks)).WithTags("Auth").AllowAnonymous();

        var group = routes.MapGroup("/api/auth").WithTags("Auth");
        group.MapPost("/signup", Signup).RequireRateLimiting(AuthRateLimits.Signup);
        group.MapPost("/login", Login).RequireRateLimiting(AuthRateLimits.Login);
        group.MapPost("/refresh", Refresh).RequireRateLimiting(AuthRateLimits.Refresh);
        group.MapPost("/logout", Logout).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapGet("/me", Me).RequireAuthorization(ScopePolicies.Read);
        group.MapPost("/password", ChangePassword).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapGet("/sessions", ListSessions).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapDelete("/sessions/{id:guid}", RevokeSession).RequireAuthorization(AuthRegistration.SessionPolicy);
        return group;
    }

    static async Task<Results<Created<TokenResponse>, ValidationProblem, ProblemHttpResult>> Signup(
        SignupRequest request, AccountStore accounts, SessionStore sessions, PasswordHasher hasher, AccessTokens tokens,
        IOptions<AuthOptions> options, HttpContext http, CancellationToken ct)
    {
        var email = EmailAddress.Normalize(request.Email, out var emailProblem);
        var passwordProblem = PasswordPolicy.Check(request.Password);
        if (emailProblem is not null || passwordProblem is not null)
        {
            return Invalid(("email", emailProblem), ("password", passwordProblem));
        }

        if (!options.Value.AllowSignup)
        {
            return TypedResults.Problem(statusCode: 403, title: "Sign-up is closed", detail: "This instance does not accept sign-ups; ask its admin for an account.");
        }

        var account = await accounts.CreateAsync(email!, hasher.Hash(request.Password!), Roles.User, AuditEvent.From(http, AuditTypes.Signup, null, null), ct);
        if (account is null)
        {
            return TypedResults.Problem(statusCode: 409, title: "Email taken", detail: "An account with this email exists; sign in instead.");
        }

        var response = await SignInAsync(account, sessions, tokens, http, ct);
        return TypedResults.Created("/api/auth/me", response);
    }

    static async Task<Results<Ok<TokenResponse>, Ok<TwoFactorChallenge>, ValidationProblem, ProblemHttpResult>> Login(
        LoginRequest request, AccountStore accounts, SessionStore sessions, PasswordHasher hasher, AccessTokens tokens,
        TwoFactorStore twoFactor, AuditLog audit, LoginThrottle throttle, HttpContext http, CancellationToken ct)
    {
        var email = EmailAddress.Normalize(request.Email, out var emailProblem);
        var passwordProblem = string.IsNullOrEmpty(request.Password) ? "A password is required." :
            request.Password.Length > PasswordPolicy.MaxLength ? $"The password must have at most {PasswordPolicy.MaxLength} characters." : null;
        if (emailProblem is not null || passwordProblem is not null)
        {
            return Invalid(("email", emailProblem), ("password", passwordProblem));
        }

        var ip = RequestOrigin.Ip(http);
        if (throttle.Blocked(email!, ip) is { } wait)
        {
            return await AuthRateLimits.RefuseAsync(http, wait, ct);
        }

        var account = await accounts.FindByEmailAsync(email!, ct);
        // One answer, in about one hash's time, whether the email is unknown, the password wrong or the account disabled.
        var verified = account?.PasswordHash is { } hash ? hasher.Verify(hash, request.Password!) : hasher.VerifyDecoy(request.Password!);
        if (!verified || account is null || account.IsDisabled)
        {
            throttle.RecordFailure(email!, ip);
            var reason = account is null ? "unknown email" : account.IsDisabled && verified ? "account disabled" : "wrong password";
            await audit.WriteAsync(AuditEvent.From(http, AuditTypes.LoginFailed, account?.Id, null, new Dictionary<string, object?> { ["reason"] = reason }), ct);
            return TypedResults.Problem(statusCode: 401, title: "Sign-in failed", detail: InvalidCredentials);
        }

        if (hasher.NeedsRehash(account.PasswordHash!))
        {
            await accounts.UpdatePasswordHashAsync(account.Id, hasher.Hash(request.Password!), ct);
        }

        // With two-factor on, the password alone earns a challenge for POST /api/auth/2fa/login, not tokens.
        if (await twoFactor.IsEnabledAsync(account.Id, ct))
        {
            return TypedResults.Ok(await TwoFactorEndpoints.ChallengeAsync(account, twoFactor, http, ct));
        }

        return TypedResults.Ok(await SignInAsync(account, sessions, tokens, http, ct));
    }

    static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> Refresh(
        RefreshRequest request, SessionStore sessions, AccessTokens tokens, HttpContext http, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.RefreshToken))
        {
            return Invalid(("refreshToken", "A refresh token is required."));
        }

        var outcome = await sessions.RotateAsync(request.RefreshToken, AuditEvent.From(http, AuditTypes.RefreshTokenReused, null, null), ct);
        if (outcome is not RefreshOutcome.Rotated rotated)
        {
            var detail = outcome is RefreshOutcome.Reused
                ? "This refresh token was already used; its session has been ended. Sign in again."
                : "The refresh token is unknown, expired or revoked. Sign in again.";
            return TypedResults.Problem(statusCode: 401, title: "Refresh refused", detail: detail);
        }

        var access = tokens.Issue(rotated.Account.Id, rotated.Session.Id, rotated.Account.Role);
        return TypedResults.Ok(Response(access, rotated.RefreshToken, rotated.Session.Id, rotated.Account));
    }

    static async Task<NoContent> Logout(CurrentUser user, SessionStore sessions, IMemoryCache cache, HttpContext http, CancellationToken ct)
    {
        await sessions.RevokeAsync(user.AccountId, user.SessionId, "logout", AuditEvent.From(http, AuditTypes.Logout, user.AccountId, user.AccountId), ct);
        // This instance forgets the session at once; others within BearerAuthenticationHandler.ActiveCheckCacheTime.
        cache.Remove((user.AccountId, user.SessionId));
        return TypedResults.NoContent();
    }

    static async Task<Results<Ok<AccountView>, NotFound>> Me(CurrentUser user, AccountStore accounts, CancellationToken ct) =>
        await accounts.FindAsync(user.AccountId, ct) is { } account ? TypedResults.Ok(AccountView.From(account)) : TypedResults.NotFound();

    /// <summary>Changes the caller's password; every other session of the account ends (ASVS 7.4.3).</summary>
    static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ChangePassword(
        ChangePasswordRequest request, CurrentUser user, AccountStore accounts, PasswordHasher hasher, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var newProblem = PasswordPolicy.Check(request.NewPassword);
        var currentProblem = string.IsNullOrEmpty(request.CurrentPassword) ? "The current password is required." : null;
        if (newProblem is null && request.NewPassword == request.CurrentPassword)
        {
            newProblem = "The new password must differ from the current one.";
        }

        if (newProblem is not null || currentProblem is not null)
        {
            return Invalid(("currentPassword", currentProblem), ("newPassword", newProblem));
        }

        var account = await accounts.FindAsync(user.AccountId, ct);
        if (account?.PasswordHash is not { } hash || !hasher.Verify(hash, request.CurrentPassword!))
        {
            await audit.WriteAsync(AuditEvent.From(http, AuditTypes.PasswordChangeFailed, user.AccountId, user.AccountId), ct);
            return TypedResults.Problem(statusCode: 403, title: "Password not changed", detail: "The current password is wrong.");
        }

        await accounts.ChangePasswordAsync(user.AccountId, hasher.Hash(request.NewPassword!), keepSession: user.SessionId,
            AuditEvent.From(http, AuditTypes.PasswordChanged, user.AccountId, user.AccountId), ct);
        return TypedResults.NoContent();
    }

    static async Task<Ok<SessionView[]>> ListSessions(CurrentUser user, SessionStore sessions, CancellationToken ct)
    {
        var active = await sessions.ListActiveAsync(user.AccountId, ct);
        return TypedResults.Ok(active.Select(s => new SessionView(s.Id, s.UserAgent, s.Ip, s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.Id == user.SessionId)).ToArray());
    }

    static async Task<Results<NoContent, NotFound>> RevokeSession(Guid id, CurrentUser user, SessionStore sessions, IMemoryCache cache, HttpContext http, CancellationToken ct)
    {
        if (!await sessions.RevokeAsync(user.AccountId, id, "revoked by its owner", AuditEvent.From(http, AuditTypes.SessionRevoked, user.AccountId, user.AccountId), ct))
        {
            return TypedResults.NotFound();
        }

        cache.Remove((user.AccountId, id));
        return TypedResults.NoContent();
    }

    internal static async Task<TokenResponse> SignInAsync(Account account, SessionStore sessions, AccessTokens tokens, HttpContext http, CancellationToken ct)
    {
        var (session, refreshToken) = await sessions.StartAsync(account, RequestOrigin.UserAgent(http), RequestOrigin.Ip(http),
            AuditEvent.From(http, AuditTypes.LoginSucceeded, account.Id, account.Id), ct);
        return Response(tokens.Issue(account.Id, session.Id, account.Role), refreshToken, session.Id, account);
    }

    static TokenResponse Response(IssuedAccessToken access, string refreshToken, Guid sessionId, Account account) =>
        new(access.Token, "Bearer", (int)access.Lifetime.TotalSeconds, refreshToken, sessionId, AccountView.From(account));

    static ValidationProblem Invalid(params (string Field, string? Problem)[] problems) =>
        TypedResults.ValidationProblem(problems.Where(p => p.Problem is not null).ToDictionary(p => p.Field, p => new[] { p.Problem! }));
}
