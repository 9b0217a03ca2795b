using Automator67.Functions.Hosting;
using Automator67.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Metrics;

public static class MetricsRegistration
{
    /// <summary>(Not AddMetrics: that is .NET's own meter setup.) The metrics API, the retention job (rollups and pruning) and the control plane's own metrics.</summary>
    public static IServiceCollection AddMetricsFeature(this IServiceCollection services)
    {
        services.AddSettings<MetricsOptions>(MetricsOptions.Section);
        services.AddSingleton<MetricsQuery>();
        services.AddSingleton<ControlPlaneMetrics>();
        services.AddScoped<MetricsRollupJob>();
        services.AddSingleton(provider => new RecurringJobDefinition(MetricsRollupJob.RecurringJobId,
            provider.GetRequiredService<IOptions<MetricsOptions>>().Value.RollupCron,
            (jobs, cron) => jobs.AddOrUpdate<MetricsRollupJob>(MetricsRollupJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), cron,
                new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        return services;
    }

    /// <summary><c>/api/apps/{id}/metrics</c>, <c>/api/nodes/{id}/metrics</c> and <c>/metrics</c>.</summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder routes)
    {
        // Made now, not at the first scrape: its meter listener must hear the sweeps that run before one.
        routes.ServiceProvider.GetRequiredService<ControlPlaneMetrics>();
        return routes.MapMetricsApi().MapPrometheus();
    }
}
