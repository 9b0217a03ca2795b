using Automator67.Functions.Features.Relay;
using Automator67.Functions.Hosting;
using Automator67.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Operations;

public static class OperationRegistration
{
    /// <summary>The operation engine, its jobs (wake-ups and recovery), and the result listener that advances operations.</summary>
    public static IServiceCollection AddOperations(this IServiceCollection services)
    {
        services.AddSettings<OperationOptions>(OperationOptions.Section);
        services.AddSingleton<OperationStore>();
        services.AddSingleton<OperationEngine>();
        services.AddSingleton<ReplicaQueries>();
        services.AddScoped<OperationJobs>();
        services.AddSingleton<ICommandResultListener, OperationResultListener>();
        services.AddSingleton(provider => new RecurringJobDefinition(OperationJobs.RecoveryJobId,
            provider.GetRequiredService<IOptions<OperationOptions>>().Value.RecoveryCron,
            (jobs, cron) => jobs.AddOrUpdate<OperationJobs>(OperationJobs.RecoveryJobId, job => job.RecoverAsync(CancellationToken.None), cron,
                new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        return services;
    }
}
