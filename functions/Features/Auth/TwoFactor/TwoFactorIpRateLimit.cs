using System.Globalization;
using System.Threading.RateLimiting;
using Automator67.Functions.Features.Audit;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Auth.TwoFactor;

/// <summary>
/// Requests per client IP per minute across every <c>/api/auth/2fa</c> route, answered with 429 and <c>Retry-After</c>
/// beyond the limit. It complements the per-account limit on wrong codes (<see cref="SecondFactorCheck"/>): that one
/// stops guessing one account's codes from many addresses, this one stops one address hammering many challenges.
/// Counted in memory, per instance (a fixed window per IP; idle windows are dropped).
/// </summary>
public sealed class TwoFactorIpRateLimit(IOptions<TwoFactorOptions> options) : IDisposable
{
    readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(ip =>
        RateLimitPartition.GetFixedWindowLimiter(ip, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.RequestsPerIpPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    /// <summary>The endpoint filter: runs the route, or answers 429 without touching it.</summary>
    public static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var limit = http.RequestServices.GetRequiredService<TwoFactorIpRateLimit>();
        using var lease = limit._limiter.AttemptAcquire(RequestOrigin.Ip(http));
        if (lease.IsAcquired)
        {
            return await next(context);
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
            detail: "Too many two-factor requests from this address; wait before trying again.");
    }

    public void Dispose() => _limiter.Dispose();
}
