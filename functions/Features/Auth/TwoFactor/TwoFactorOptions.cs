using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>Two-factor authentication. Values: <c>TwoFactor__Issuer</c>, …</summary>
public sealed class TwoFactorOptions
{
    public const string Section = "TwoFactor";

    /// <summary>The name authenticator apps show beside the account (no colon: it separates the otpauth label). Default: <c>Automator67</c>.</summary>
    [Required(ErrorMessage = "Setting TwoFactor__Issuer is required.")]
    [RegularExpression("^[^:]{1,64}$", ErrorMessage = "Setting TwoFactor__Issuer must have 1 to 64 characters and no colon.")]
    public string Issuer { get; set; } = "Automator67";

    /// <summary>
    /// The key that encrypts TOTP secrets (created on first use, mode 0600). Losing it leaves every enrolled user with
    /// their backup codes only. Default: <c>.a67/keys/two-factor-key.json</c> under the content root.
    /// </summary>
    [Required(ErrorMessage = "Setting TwoFactor__SecretKeyFile is required.")]
    public string SecretKeyFile { get; set; } = Path.Combine(".a67", "keys", "two-factor-key.json");

    /// <summary>How long after the password the second step of a login may come. Default: 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "00:30:00", ErrorMessage = "Setting TwoFactor__ChallengeLifetime must be between 00:01:00 and 00:30:00.")]
    public TimeSpan ChallengeLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Wrong codes an account may send within <see cref="FailureWindow"/> before it must wait. Default: 5.</summary>
    [Range(1, 100, ErrorMessage = "Setting TwoFactor__MaxFailures must be between 1 and 100.")]
    public int MaxFailures { get; set; } = 5;

    /// <summary>The window that <see cref="MaxFailures"/> counts in, from the first failure. Default: 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00", ErrorMessage = "Setting TwoFactor__FailureWindow must be between 00:01:00 and 1.00:00:00.")]
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(15);
}
