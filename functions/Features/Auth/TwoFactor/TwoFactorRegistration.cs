using Automator67.Hosting;

namespace Automator67.Functions.Features.Auth.TwoFactor;

public static class TwoFactorRegistration
{
    public static IServiceCollection AddTwoFactor(this IServiceCollection services)
    {
        services.AddSettings<TwoFactorOptions>(TwoFactorOptions.Section);
        services.AddSingleton<TwoFactorSecrets>();
        services.AddSingleton<SecondFactorCheck>();
        services.AddSingleton<TwoFactorStore>();
        return services;
    }
}
