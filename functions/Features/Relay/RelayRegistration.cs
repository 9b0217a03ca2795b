using Automator67.Hosting;

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
        services.AddHostedService<CommandPathHealthSchedule>();
        return services;
    }
}
