using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.Auth.Passwords;
using Automator67.Functions.Features.Auth.Sessions;
using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Hosting;
using Microsoft.AspNetCore.Authentication;

namespace Automator67.Functions.Features.Auth;

public static class AuthRegistration
{
    public const string AdminPolicy = "admin";

    public static IServiceCollection AddAuth(this IServiceCollection services)
    {
        services.AddSettings<AuthOptions>(AuthOptions.Section);
        services.AddMemoryCache();
        services.AddSingleton<SigningKeyRing>();
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<AccountStore>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<AuditLog>();
        services.AddSingleton<AdminBootstrap>();
        services.AddTwoFactor();

        services.AddAuthentication(BearerAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin));
        return services;
    }
}
