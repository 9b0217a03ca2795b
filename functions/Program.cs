using Automator67.Functions.Features.Accounts;
using Automator67.Functions.Features.Alerts;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Events;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.GitHub;
using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Functions.Features.Health;
using Automator67.Functions.Features.Metrics;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Registries;
using Automator67.Functions.Features.Relay;
using Automator67.Functions.Features.Secrets;
using Automator67.Functions.Features.Tokens;
using Automator67.Functions.Hosting;
using Automator67.Hosting;

// Automator67 control plane: the design card's HTTP functions, timer functions and queue function, on ASP.NET Core
// and Hangfire (see README, "Why not Azure Functions").
if (args is ["healthcheck", ..])
{
    // The container image's HEALTHCHECK: builds no host, only asks this instance's /healthz.
    return await HealthProbe.RunAsync(args);
}

return await StartupErrors.RunAsync("automator67", async () =>
{
    var builder = ControlPlaneHosting.CreateBuilder(args);
    builder.AddControlPlane();

    var app = builder.Build();
    if (args is ["bootstrap-admin", ..])
    {
        await app.BootstrapAdminAsync();
        return;
    }

    if (args is ["join-token", ..])
    {
        await app.PrintJoinTokenAsync(args);
        return;
    }

    app.UseControlPlane();
    app.MapHealth();
    app.MapAuth();
    app.MapGitHubSignIn();
    app.MapTwoFactor();
    app.MapAccounts();
    app.MapAudit();
    app.MapNodes();
    app.MapApps();
    app.MapOperations();
    app.MapEvents();
    app.MapSecrets();
    app.MapRegistries();
    app.MapAlertRoutes();
    app.MapMetrics();
    app.MapRelay();
    app.MapTokens();

    await app.RunAsync();
});

/// <summary>Entry point; public so the tests can find the assembly.</summary>
public partial class Program;
