namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>
/// What <c>POST /api/auth/login</c> answers, instead of tokens, when the password was right and the account has
/// two-factor on: redeem <see cref="ChallengeToken"/> at <c>POST /api/auth/2fa/login</c> within <see cref="ExpiresIn"/> seconds.
/// </summary>
public sealed record TwoFactorChallenge(bool TwoFactorRequired, string ChallengeToken, int ExpiresIn, string[] Methods);

/// <summary>The second step of a login: the challenge and either a code from the app or a backup code.</summary>
public sealed record TwoFactorLoginRequest(string? ChallengeToken, string? Code, string? BackupCode);

public sealed record TwoFactorEnrollRequest(string? Password);

/// <summary>
/// A pending enrolment: scan <see cref="QrCode"/> (a PNG data URI of <see cref="OtpauthUri"/>) or type
/// <see cref="Secret"/> into an authenticator app, then confirm with its first code. Shown once.
/// </summary>
public sealed record TwoFactorEnrollment(string Secret, string OtpauthUri, string QrCode, string Algorithm, int Digits, int Period);

public sealed record TwoFactorConfirmRequest(string? Code);

public sealed record TwoFactorDisableRequest(string? Password, string? Code, string? BackupCode);

public sealed record BackupCodesRequest(string? Password, string? Code);

/// <summary>Ten single-use backup codes, shown this once; each signs in once in place of a code from the app.</summary>
public sealed record BackupCodesResponse(string[] BackupCodes);

public sealed record TwoFactorStatus(bool Enabled, bool EnrollmentPending, DateTimeOffset? EnabledAt, int BackupCodesRemaining);
