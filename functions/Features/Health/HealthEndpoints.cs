using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Automator67.Functions.Features.Health;

/// <summary>
/// <c>/healthz</c>: the process is alive (liveness; no dependency is checked, so a database outage never restarts it).
/// <c>/readyz</c>: the database and queue service are reachable (readiness); 503 problem details naming each failure otherwise.
/// </summary>
public static class HealthEndpoints
{
    const string ReadyTag = "ready";
    static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);

    public static IServiceCollection AddHealthEndpoints(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseReadinessCheck>("database", tags: [ReadyTag], timeout: CheckTimeout)
            .AddCheck<QueueReadinessCheck>("queues", tags: [ReadyTag], timeout: CheckTimeout);
        return services;
    }

    public static RouteGroupBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("").WithTags("Health");
        group.MapGet("/healthz", Live).WithSummary("Liveness: the process is up.");
        group.MapGet("/readyz", Ready).WithSummary("Readiness: database and queue service reachable.");
        return group;
    }

    static Ok<HealthView> Live(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new HealthView("Healthy", new Dictionary<string, HealthCheckView>()));
    }

    static async Task<Results<Ok<HealthView>, ProblemHttpResult>> Ready(HealthCheckService health, HttpContext context, CancellationToken ct)
    {
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(ReadyTag), ct);
        var checks = report.Entries.ToDictionary(
            e => e.Key,
            e => new HealthCheckView(e.Value.Status.ToString(), e.Value.Description ?? e.Value.Exception?.Message, (long)e.Value.Duration.TotalMilliseconds));
        context.Response.Headers.CacheControl = "no-store";

        if (report.Status != HealthStatus.Unhealthy)
        {
            return TypedResults.Ok(new HealthView(report.Status.ToString(), checks));
        }

        var failures = checks.Where(c => c.Value.Status == nameof(HealthStatus.Unhealthy)).Select(c => $"{c.Key}: {c.Value.Description ?? "unhealthy"}");
        return TypedResults.Problem(
            title: "Not ready",
            detail: string.Join("; ", failures),
            statusCode: StatusCodes.Status503ServiceUnavailable,
            extensions: new Dictionary<string, object?> { ["checks"] = checks });
    }

    public sealed record HealthView(string Status, IReadOnlyDictionary<string, HealthCheckView> Checks);

    public sealed record HealthCheckView(string Status, string? Description, long DurationMs);
}
