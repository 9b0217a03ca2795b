using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Auth;

/// <summary>Accounts, tokens and sessions. Values: <c>Auth__AccessTokenLifetime</c>, …</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>The <c>iss</c> of every access token. Default: <c>automator67</c>.</summary>
    [Required(ErrorMessage = "Setting Auth__Issuer is required.")]
    public string Issuer { get; set; } = "automator67";

    /// <summary>The <c>aud</c> of every access token. Default: <c>automator67-api</c>.</summary>
    [Required(ErrorMessage = "Setting Auth__Audience is required.")]
    public string Audience { get; set; } = "automator67-api";

    /// <summary>Access-token lifetime. Default: 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "01:00:00", ErrorMessage = "Setting Auth__AccessTokenLifetime must be between 00:01:00 and 01:00:00.")]
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Absolute lifetime of a session (its refresh tokens). Default: 30 days.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00", ErrorMessage = "Setting Auth__SessionLifetime must be between 01:00:00 and 365.00:00:00.")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>A session unused this long ends. Default: 7 days.</summary>
    [Range(typeof(TimeSpan), "00:05:00", "365.00:00:00", ErrorMessage = "Setting Auth__SessionIdleTimeout must be between 00:05:00 and 365.00:00:00.")]
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// The token-signing key file (created on first start, mode 0600). Default: <c>.a67/keys/signing-keys.json</c>
    /// under the content root.
    /// </summary>
    [Required(ErrorMessage = "Setting Auth__SigningKeyFile is required.")]
    public string SigningKeyFile { get; set; } = Path.Combine(".a67", "keys", "signing-keys.json");

    /// <summary>A signing key older than this is replaced at start; the previous one verifies until its tokens expire. Default: 30 days.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00", ErrorMessage = "Setting Auth__SigningKeyLifetime must be between 01:00:00 and 365.00:00:00.")]
    public TimeSpan SigningKeyLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Argon2id passes; raising it rehashes each password at its next login. Default: 2.</summary>
    [Range(2, 10, ErrorMessage = "Setting Auth__PasswordHashIterations must be between 2 and 10.")]
    public int PasswordHashIterations { get; set; } = 2;

    /// <summary>Argon2id memory in MiB; raising it rehashes each password at its next login. Default: 19.</summary>
    [Range(19, 1024, ErrorMessage = "Setting Auth__PasswordHashMemoryMiB must be between 19 and 1024.")]
    public int PasswordHashMemoryMiB { get; set; } = 19;

    /// <summary>Email of the instance admin that <c>./a67 start</c> creates on first start. Default: <c>admin@automator67.local</c>.</summary>
    [Required(ErrorMessage = "Setting Auth__AdminEmail is required."), EmailAddress(ErrorMessage = "Setting Auth__AdminEmail must be an email address.")]
    public string AdminEmail { get; set; } = "admin@automator67.local";

    /// <summary>Whether anyone may sign up; when false only the admin creates accounts. Default: true.</summary>
    public bool AllowSignup { get; set; } = true;
}
