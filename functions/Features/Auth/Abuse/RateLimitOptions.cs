using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Auth.Abuse;

/// <summary>Limits on the endpoints attackers hammer. Values: <c>RateLimits__LoginPerIpPerMinute</c>, …</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Sign-ups from one IP address per hour. Default: 20.</summary>
    [Range(1, 100_000, ErrorMessage = "Setting RateLimits__SignupPerIpPerHour must be between 1 and 100000.")]
    public int SignupPerIpPerHour { get; set; } = 20;

    /// <summary>Login attempts (including two-factor codes) from one IP address per minute. Default: 20.</summary>
    [Range(1, 100_000, ErrorMessage = "Setting RateLimits__LoginPerIpPerMinute must be between 1 and 100000.")]
    public int LoginPerIpPerMinute { get; set; } = 20;

    /// <summary>
    /// Failed logins for one account from one IP address per 15 minutes. Keyed by account and address together, so an
    /// attacker elsewhere cannot lock the owner out. Default: 5.
    /// </summary>
    [Range(1, 100_000, ErrorMessage = "Setting RateLimits__LoginFailuresPerAccountPerIp must be between 1 and 100000.")]
    public int LoginFailuresPerAccountPerIp { get; set; } = 5;

    /// <summary>Refresh-token exchanges from one IP address per minute. Default: 60.</summary>
    [Range(1, 100_000, ErrorMessage = "Setting RateLimits__RefreshPerIpPerMinute must be between 1 and 100000.")]
    public int RefreshPerIpPerMinute { get; set; } = 60;

    /// <summary>Two-factor enrolment, confirmation and disabling attempts from one IP address per minute. Default: 10.</summary>
    [Range(1, 100_000, ErrorMessage = "Setting RateLimits__TwoFactorPerIpPerMinute must be between 1 and 100000.")]
    public int TwoFactorPerIpPerMinute { get; set; } = 10;
}
