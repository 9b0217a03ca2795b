using Automator67.Functions.Hosting;
using Automator67.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Sweeps;

public static class SweepRegistration
{
    /// <summary>The timer sweeps (health, reconcile) as recurring Hangfire jobs, and the healer they share.</summary>
    public static IServiceCollection AddSweeps(this IServiceCollection services)
    {
        services.AddSettings<SweepOptions>(SweepOptions.Section);
        services.AddSingleton<AppHealer>();
        services.AddScoped<HealthSweep>();
        services.AddScoped<ReconcileSweep>();
        services.AddSingleton(provider => new RecurringJobDefinition(HealthSweep.JobId,
            () => SweepOptions.Cron(provider.GetRequiredService<IOptions<SweepOptions>>().Value.HealthSeconds),
            (jobs, cron) => jobs.AddOrUpdate<HealthSweep>(HealthSweep.JobId, sweep => sweep.RunAsync(CancellationToken.None), cron,
                new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        services.AddSingleton(provider => new RecurringJobDefinition(ReconcileSweep.JobId,
            () => SweepOptions.Cron(provider.GetRequiredService<IOptions<SweepOptions>>().Value.ReconcileSeconds),
            (jobs, cron) => jobs.AddOrUpdate<ReconcileSweep>(ReconcileSweep.JobId, sweep => sweep.RunAsync(CancellationToken.None), cron,
                new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        return services;
    }
}
