using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Auth.Abuse;

/// <summary>
/// Failed logins per account and IP address: after <see cref="RateLimitOptions.LoginFailuresPerAccountPerIp"/>
/// failures in 15 minutes that pair gets 429 until the window ends. Only failures count, and only from that
/// address, so the owner signing in from their own address is never locked out by someone else's guessing.
/// </summary>
public sealed class LoginThrottle(IOptions<RateLimitOptions> options) : IDisposable
{
    static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    readonly PartitionedRateLimiter<string> _failures = PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.LoginFailuresPerAccountPerIp,
            Window = Window,
            QueueLimit = 0,
        }));

    /// <summary>How long this account/address pair must wait, or null when it may try.</summary>
    public TimeSpan? Blocked(string email, string ip)
    {
        var statistics = _failures.GetStatistics(Key(email, ip));
        return statistics is { CurrentAvailablePermits: <= 0 } ? Window : null;
    }

    public void RecordFailure(string email, string ip) => _failures.AttemptAcquire(Key(email, ip)).Dispose();

    public void Dispose() => _failures.Dispose();

    static string Key(string email, string ip) => $"{email}\n{ip}";
}
