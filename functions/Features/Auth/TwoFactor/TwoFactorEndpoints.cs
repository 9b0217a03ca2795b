using System.Globalization;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Abuse;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.Auth.Passwords;
using Automator67.Functions.Features.Auth.Sessions;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using QRCoder;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>
/// Two-factor authentication with TOTP: <c>/api/auth/2fa</c>. Enrolling takes the password (whoever holds only a
/// stolen access token must not bind their own authenticator); confirming takes the first code and returns the backup
/// codes; disabling takes the password and a current code. Once on, <c>POST /api/auth/login</c> answers with a
/// challenge that <c>POST /api/auth/2fa/login</c> turns into tokens.
/// </summary>
public static class TwoFactorEndpoints
{
    const string CodeProblem = "The code must be the 6 digits your authenticator app shows.";
    const string BackupCodeProblem = "A backup code has 24 letters and digits, written as xxxx-xxxx-xxxx-xxxx-xxxx-xxxx.";
    static readonly string[] Methods = ["totp", "backupCode"];

    public static RouteGroupBuilder MapTwoFactor(this IEndpointRouteBuilder routes)
    {
        // Managing two-factor takes a signed-in session: a personal API token must not bind or remove an authenticator.
        var group = routes.MapGroup("/api/auth/2fa").WithTags("Two-factor").RequireRateLimiting(AuthRateLimits.TwoFactor);
        group.MapGet("/", Status).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapPost("/enroll", Enroll).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapPost("/confirm", Confirm).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapPost("/disable", Disable).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapPost("/backup-codes", RegenerateBackupCodes).RequireAuthorization(AuthRegistration.SessionPolicy);
        group.MapPost("/login", Login);
        return group;
    }

    /// <summary>Login's first step, for an account with two-factor on: a challenge instead of tokens.</summary>
    public static async Task<TwoFactorChallenge> ChallengeAsync(Account account, TwoFactorStore store, HttpContext http, CancellationToken ct)
    {
        var (token, lifetime) = await store.IssueChallengeAsync(account.Id, AuditEvent.From(http, AuditTypes.TwoFactorChallenged, account.Id, account.Id), ct);
        http.Response.Headers.CacheControl = "no-store";
        return new TwoFactorChallenge(true, token, (int)lifetime.TotalSeconds, Methods);
    }

    static async Task<Ok<TwoFactorStatus>> Status(CurrentUser user, TwoFactorStore store, CancellationToken ct) =>
        TypedResults.Ok(await store.StatusAsync(user.AccountId, ct));

    static async Task<Results<Ok<TwoFactorEnrollment>, ValidationProblem, ProblemHttpResult>> Enroll(
        TwoFactorEnrollRequest request, CurrentUser user, AccountStore accounts, PasswordHasher hasher, TwoFactorStore store, TwoFactorSecrets secrets,
        AuditLog audit, IOptions<TwoFactorOptions> options, HttpContext http, CancellationToken ct)
    {
        if (PasswordProblem(request.Password) is { } problem)
        {
            return Invalid(("password", problem));
        }

        var account = await accounts.FindAsync(user.AccountId, ct);
        if (account?.PasswordHash is null)
        {
            return TypedResults.Problem(statusCode: 409, title: "No password", detail: "Two-factor protects password sign-in, and this account has no password.");
        }

        if (await WrongPasswordAsync(account, request.Password!, hasher, audit, http, "enroll", ct) is { } refused)
        {
            return refused;
        }

        var secret = Totp.NewSecret();
        var started = AuditEvent.From(http, AuditTypes.TwoFactorEnrollmentStarted, user.AccountId, user.AccountId);
        if (!await store.BeginEnrollmentAsync(user.AccountId, secrets.Seal(user.AccountId, secret), started, ct))
        {
            return TypedResults.Problem(statusCode: 409, title: "Two-factor is on", detail: "Two-factor is already on; disable it first to enroll another authenticator.");
        }

        var uri = Totp.OtpauthUri(options.Value.Issuer, account.Email, secret);
        var png = PngByteQRCodeHelper.GetQRCode(uri, QRCodeGenerator.ECCLevel.M, 6); // 6 px per module
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new TwoFactorEnrollment(Totp.Base32(secret), uri, "data:image/png;base64," + Convert.ToBase64String(png),
            Totp.Algorithm, Totp.Digits, Totp.PeriodSeconds));
    }

    static async Task<Results<Ok<BackupCodesResponse>, ValidationProblem, ProblemHttpResult>> Confirm(
        TwoFactorConfirmRequest request, CurrentUser user, TwoFactorStore store, HttpContext http, CancellationToken ct)
    {
        if (Totp.Normalize(request.Code) is not { } code)
        {
            return Invalid(("code", CodeProblem));
        }

        var (verification, codes) = await store.ConfirmAsync(user.AccountId, user.SessionId, new SecondFactor(code, null),
            AuditEvent.From(http, AuditTypes.TwoFactorEnabled, user.AccountId, user.AccountId), ct);
        if (verification is Verification.WrongState)
        {
            return TypedResults.Problem(statusCode: 409, title: "Nothing to confirm", detail: "There is no pending enrolment: enroll first (or two-factor is already on).");
        }

        http.Response.Headers.CacheControl = "no-store";
        return verification is Verification.Accepted ? TypedResults.Ok(new BackupCodesResponse(codes!)) : Refused(verification, http, StatusCodes.Status403Forbidden);
    }

    static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Disable(
        TwoFactorDisableRequest request, CurrentUser user, AccountStore accounts, PasswordHasher hasher, TwoFactorStore store, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var (factor, factorProblem) = ReadFactor(request.Code, request.BackupCode);
        var passwordProblem = PasswordProblem(request.Password);
        if (factor is null || passwordProblem is not null)
        {
            return Invalid(("password", passwordProblem), factorProblem ?? ("code", null));
        }

        var account = await accounts.FindAsync(user.AccountId, ct);
        if (account is null || await WrongPasswordAsync(account, request.Password!, hasher, audit, http, "disable", ct) is not null)
        {
            return WrongPassword();
        }

        var verification = await store.DisableAsync(user.AccountId, user.SessionId, factor, AuditEvent.From(http, AuditTypes.TwoFactorDisabled, user.AccountId, user.AccountId), ct);
        return verification switch
        {
            Verification.Accepted => TypedResults.NoContent(),
            Verification.WrongState => TypedResults.Problem(statusCode: 409, title: "Two-factor is off", detail: "Two-factor is not on for this account."),
            _ => Refused(verification, http, StatusCodes.Status403Forbidden),
        };
    }

    static async Task<Results<Ok<BackupCodesResponse>, ValidationProblem, ProblemHttpResult>> RegenerateBackupCodes(
        BackupCodesRequest request, CurrentUser user, AccountStore accounts, PasswordHasher hasher, TwoFactorStore store, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var code = Totp.Normalize(request.Code);
        var passwordProblem = PasswordProblem(request.Password);
        if (code is null || passwordProblem is not null)
        {
            return Invalid(("password", passwordProblem), ("code", code is null ? CodeProblem : null));
        }

        var account = await accounts.FindAsync(user.AccountId, ct);
        if (account is null || await WrongPasswordAsync(account, request.Password!, hasher, audit, http, "backup-codes", ct) is not null)
        {
            return WrongPassword();
        }

        var (verification, codes) = await store.RegenerateBackupCodesAsync(user.AccountId, new SecondFactor(code, null),
            AuditEvent.From(http, AuditTypes.TwoFactorBackupCodesRegenerated, user.AccountId, user.AccountId), ct);
        http.Response.Headers.CacheControl = "no-store";
        return verification switch
        {
            Verification.Accepted => TypedResults.Ok(new BackupCodesResponse(codes!)),
            Verification.WrongState => TypedResults.Problem(statusCode: 409, title: "Two-factor is off", detail: "Two-factor is not on for this account."),
            _ => Refused(verification, http, StatusCodes.Status403Forbidden),
        };
    }

    /// <summary>Login's second step: a challenge from <c>POST /api/auth/login</c> and a second factor, for tokens.</summary>
    static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> Login(
        TwoFactorLoginRequest request, TwoFactorStore store, SessionStore sessions, AccessTokens tokens, HttpContext http, CancellationToken ct)
    {
        var (factor, factorProblem) = ReadFactor(request.Code, request.BackupCode);
        var challengeProblem = string.IsNullOrEmpty(request.ChallengeToken) ? "The challengeToken from the password step is required." : null;
        if (factor is null || challengeProblem is not null)
        {
            return Invalid(("challengeToken", challengeProblem), factorProblem ?? ("code", null));
        }

        var (verification, account) = await store.RedeemChallengeAsync(request.ChallengeToken!, factor,
            AuditEvent.From(http, AuditTypes.TwoFactorVerified, null, null), ct);
        if (account is null || verification is Verification.WrongState)
        {
            return TypedResults.Problem(statusCode: 401, title: "Sign-in failed", detail: "The sign-in challenge is unknown, expired or already used; sign in with your password again.");
        }

        if (verification is not Verification.Accepted)
        {
            return Refused(verification!, http, StatusCodes.Status401Unauthorized);
        }

        return TypedResults.Ok(await AuthEndpoints.SignInAsync(account, sessions, tokens, http, ct));
    }

    // A wrong code answers `status` (401 at login, 403 elsewhere); too many answer 429 with Retry-After.
    static ProblemHttpResult Refused(Verification verification, HttpContext http, int status)
    {
        if (verification is Verification.Locked locked)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(locked.RetryAfter.TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many wrong codes",
                detail: $"Too many wrong codes for this account; try again in {seconds} seconds.");
        }

        var detail = verification is Verification.Wrong { Reason: "code already used" }
            ? "This code was already used; wait for the next one."
            : "The code is wrong.";
        return TypedResults.Problem(statusCode: status, title: status == StatusCodes.Status401Unauthorized ? "Sign-in failed" : "Code refused", detail: detail);
    }

    static (SecondFactor? Factor, (string Field, string? Problem)? Problem) ReadFactor(string? code, string? backupCode) =>
        (string.IsNullOrEmpty(code), string.IsNullOrEmpty(backupCode)) switch
        {
            (true, true) => (null, ("code", "Send the code from your authenticator app, or a backup code as backupCode.")),
            (false, false) => (null, ("backupCode", "Send either code or backupCode, not both.")),
            (false, true) => Totp.Normalize(code) is { } digits ? (new SecondFactor(digits, null), null) : (null, ("code", CodeProblem)),
            (true, false) => BackupCodes.Normalize(backupCode) is { } normalized ? (new SecondFactor(null, normalized), null) : (null, ("backupCode", BackupCodeProblem)),
        };

    static string? PasswordProblem(string? password) =>
        string.IsNullOrEmpty(password) ? "The password is required."
        : password.Length > PasswordPolicy.MaxLength ? $"The password must have at most {PasswordPolicy.MaxLength} characters." : null;

    // Null when the password is right; else audits the failure and returns the 403.
    static async Task<ProblemHttpResult?> WrongPasswordAsync(Account account, string password, PasswordHasher hasher, AuditLog audit, HttpContext http, string purpose, CancellationToken ct)
    {
        if (account.PasswordHash is { } hash && hasher.Verify(hash, password))
        {
            return null;
        }

        await audit.WriteAsync(AuditEvent.From(http, AuditTypes.TwoFactorFailed, account.Id, account.Id,
            new Dictionary<string, object?> { ["purpose"] = purpose, ["reason"] = "wrong password" }), ct);
        return WrongPassword();
    }

    static ProblemHttpResult WrongPassword() => TypedResults.Problem(statusCode: 403, title: "Password refused", detail: "The password is wrong.");

    static ValidationProblem Invalid(params (string Field, string? Problem)[] problems) =>
        TypedResults.ValidationProblem(problems.Where(p => p.Problem is not null).ToDictionary(p => p.Field, p => new[] { p.Problem! }));
}
