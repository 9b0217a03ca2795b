using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Hosting;
using Automator67.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Relay;

public static class RelayRegistration
{
    /// <summary>Command sending, the relay-events queue function and command-path health.</summary>
    public static IServiceCollection AddRelay(this IServiceCollection services)
    {
        services.AddSettings<RelayEventsOptions>(RelayEventsOptions.Section);
        services.AddSingleton<CommandSender>();
        services.AddSingleton<CommandResults>();
        services.AddSingleton<NodeKeys>();
        services.AddSingleton<RelayEventStore>();
        services.AddScoped<RelayEventProcessor>();
        services.AddScoped<CommandPathHealthJob>();
        services.AddHostedService<RelayEventsConsumer>();
        services.AddSingleton(provider => new RecurringJobDefinition(CommandPathHealthJob.RecurringJobId,
            provider.GetRequiredService<IOptions<NodeOptions>>().Value.PingCron,
            (jobs, cron) => jobs.AddOrUpdate<CommandPathHealthJob>(CommandPathHealthJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), cron,
                new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        return services;
    }
}
