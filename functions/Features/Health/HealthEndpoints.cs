using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Automator67.Functions.Features.Health;

/// <summary>
/// <c>/healthz</c>: the process is alive (liveness; no dependency is checked, so a database outage never restarts it).
/// <c>/readyz</c>: the database and queue service are reachable (readiness); 503 with the reasons otherwise.
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

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = WriteReport,
        }).WithTags("Health").WithDescription("Liveness: the process is up.");

        routes.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteReport,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).WithTags("Health").WithDescription("Readiness: database and queue service reachable.");
        return routes;
    }

    // Healthy: {"status":"Healthy","checks":{...}}. Unhealthy: an RFC 7807 problem whose detail names each failure.
    static Task WriteReport(HttpContext context, HealthReport report)
    {
        var checks = report.Entries.ToDictionary(
            e => e.Key,
            e => new HealthCheckView(e.Value.Status.ToString(), e.Value.Description, (long)e.Value.Duration.TotalMilliseconds));
        context.Response.Headers.CacheControl = "no-store";

        if (report.Status == HealthStatus.Unhealthy)
        {
            var failures = report.Entries.Where(e => e.Value.Status == HealthStatus.Unhealthy)
                .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? "unhealthy"}");
            return Results.Problem(
                title: "Not ready",
                detail: string.Join("; ", failures),
                statusCode: StatusCodes.Status503ServiceUnavailable,
                extensions: new Dictionary<string, object?> { ["checks"] = checks }).ExecuteAsync(context);
        }

        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new HealthView(report.Status.ToString(), checks), JsonSerializerOptions.Web, cancellationToken: context.RequestAborted);
    }

    sealed record HealthView(string Status, IReadOnlyDictionary<string, HealthCheckView> Checks);

    sealed record HealthCheckView(string Status, string? Description, long DurationMs);
}
