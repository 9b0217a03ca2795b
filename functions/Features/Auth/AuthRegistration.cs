using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Abuse;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.Auth.Passwords;
using Automator67.Functions.Features.Auth.Sessions;
using Automator67.Functions.Features.Auth.Tokens;
using Automator67.Functions.Features.Tokens;
using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Hosting;
using Microsoft.AspNetCore.Authentication;

namespace Automator67.Functions.Features.Auth;

public static class AuthRegistration
{
    /// <summary>The instance admin's routes: the admin role, and the <c>admin</c> scope when the caller is a personal access token.</summary>
    public const string AdminPolicy = "admin";

    /// <summary>Routes that act on the caller's sign-in session; a personal access token gets a 403.</summary>
    public const string SessionPolicy = "session";

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
        services.AddAuthRateLimits();

        // Personal access tokens (features/Tokens): accepted by the bearer handler, limited by the scope policies.
        services.AddSingleton<PersonalAccessTokenStore>();
        services.AddSingleton<PersonalAccessTokens>();
        services.AddTwoFactor();

        services.AddAuthentication(BearerAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin).AddRequirements(new ScopeRequirement(TokenScopes.Admin)))
            .AddPolicy(SessionPolicy, policy => policy.RequireAuthenticatedUser().AddRequirements(new SessionRequirement()))
            .AddScopePolicies();
        return services;
    }
}
