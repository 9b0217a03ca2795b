using System.Globalization;
using System.Threading.RateLimiting;
using Automator67.Functions.Features.Audit;
using Automator67.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Auth.Abuse;

/// <summary>
/// Per-IP fixed windows on sign-up, login, refresh and two-factor routes (429 with <c>Retry-After</c>), plus
/// <see cref="LoginThrottle"/> for failed logins per account and IP. Limits live in each process's memory: with
/// several instances behind a balancer the effective limit is the sum, which still bounds guessing.
/// </summary>
public static class AuthRateLimits
{
    public const string Signup = "signup";
    public const string Login = "login";
    public const string Refresh = "refresh";
    public const string TwoFactor = "two-factor";

    public static IServiceCollection AddAuthRateLimits(this IServiceCollection services)
    {
        services.AddSettings<RateLimitOptions>(RateLimitOptions.Section);
        services.AddSingleton<LoginThrottle>();
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Signup, http => PerIp(http, o => o.SignupPerIpPerHour, TimeSpan.FromHours(1)));
            limiter.AddPolicy(Login, http => PerIp(http, o => o.LoginPerIpPerMinute, TimeSpan.FromMinutes(1)));
            limiter.AddPolicy(Refresh, http => PerIp(http, o => o.RefreshPerIpPerMinute, TimeSpan.FromMinutes(1)));
            limiter.AddPolicy(TwoFactor, http => PerIp(http, o => o.TwoFactorPerIpPerMinute, TimeSpan.FromMinutes(1)));
            limiter.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
                await TooManyAsync(context.HttpContext, retryAfter, ct);
            };
        });
        return services;
    }

    /// <summary>Answers 429 with <c>Retry-After</c> and problem details, and audits the refusal.</summary>
    public static async Task TooManyAsync(HttpContext http, TimeSpan retryAfter, CancellationToken ct)
    {
        var problem = await RefuseAsync(http, retryAfter, ct);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = problem.StatusCode, Title = problem.ProblemDetails.Title, Detail = problem.ProblemDetails.Detail },
        });
    }

    /// <summary>Sets <c>Retry-After</c>, audits, and returns the 429 problem for an endpoint to answer with.</summary>
    public static async Task<Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult> RefuseAsync(HttpContext http, TimeSpan retryAfter, CancellationToken ct)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<AuditLog>().WriteAsync(
            AuditEvent.From(http, AuditTypes.RateLimited, null, null, new Dictionary<string, object?> { ["path"] = http.Request.Path.Value }), ct);
        return TypedResults.Problem(statusCode: 429, title: "Too many requests", detail: $"Too many attempts; try again in {seconds} s.");
    }

    static RateLimitPartition<string> PerIp(HttpContext http, Func<RateLimitOptions, int> limit, TimeSpan window)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        var permits = limit(options);
        return RateLimitPartition.GetFixedWindowLimiter(RequestOrigin.Ip(http), _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = window,
            QueueLimit = 0,
        });
    }
}
