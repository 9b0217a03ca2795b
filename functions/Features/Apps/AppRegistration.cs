namespace Automator67.Functions.Features.Apps;

public static class AppRegistration
{
    public static IServiceCollection AddApps(this IServiceCollection services)
    {
        services.AddSingleton<AppStore>();
        services.AddSingleton<ReleaseStore>();
        return services;
    }
}
