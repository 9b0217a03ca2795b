using Automator67.Functions.Database;
using Automator67.Functions.Features.Alerts;
using System.Text.Json.Serialization;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Relay;
using Automator67.Functions.Features.Sweeps;
using Automator67.Functions.Features.Secrets;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Features.GitHub;
using Automator67.Functions.Features.Health;
using Automator67.Functions.Features.Metrics;
using Automator67.Functions.Queues;
using Automator67.Hosting;
using Automator67.Orchestrations.Runtime;
using Hangfire;
using Microsoft.AspNetCore.HttpLogging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Npgsql;
using Scalar.AspNetCore;

namespace Automator67.Functions.Hosting;

/// <summary>The control plane's one composition method and its middleware pipeline.</summary>
public static class ControlPlaneHosting
{
    /// <summary>Built-in defaults: log levels that keep request logs (with their request id) and drop framework chatter.</summary>
    static readonly IReadOnlyDictionary<string, string?> BuiltInDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        // One line per request from the HTTP logging middleware, which leaves out the query string: an OAuth callback's
        // code and state travel there (the hosting diagnostics' "Request starting" line would print them).
        ["Logging:LogLevel:Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware"] = "Information",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        // An unhealthy /readyz is an answer, not an error: DatabaseMigrator logs the cause once per attempt.
        ["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks"] = "Critical",
    };

    /// <summary>Largest request body accepted (413 beyond): API bodies are small JSON documents.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    static readonly string[] ConsoleFormatters = [ConsoleFormatterNames.Json, ConsoleFormatterNames.Simple, ConsoleFormatterNames.Systemd];

    /// <summary>Creates the builder with Automator67's configuration sources (see <see cref="LocalSettings"/>).</summary>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var contentRoot = Directory.GetCurrentDirectory();
        var local = LocalSettings.Load(contentRoot);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = contentRoot,
            EnvironmentName = local.EnvironmentName,
        });
        // What the user set (file, environment, arguments) decides which development defaults apply.
        var configured = new ConfigurationBuilder().AddInMemoryCollection(local.Values).AddEnvironmentVariables().AddCommandLine(args).Build();
        local.ApplyTo(builder.Configuration, builder.Environment.IsDevelopment(), BuiltInDefaults, DevelopmentDefaults.For(configured), args);
        return builder;
    }

    public static WebApplicationBuilder AddControlPlane(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var controlPlane = builder.Configuration.GetSection(ControlPlaneOptions.Section).Get<ControlPlaneOptions>() ?? new ControlPlaneOptions();
        builder.WebHost.UseUrls(controlPlane.Url);
        services.Configure<HostOptions>(host => host.ShutdownTimeout = controlPlane.ShutdownTimeout);

        services.AddSettings<ControlPlaneOptions>(ControlPlaneOptions.Section);
        services.AddSettings<DatabaseOptions>(DatabaseOptions.Section);
        AddLogging(builder);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(provider => new NpgsqlDataSourceBuilder(provider.GetRequiredService<IOptions<DatabaseOptions>>().Value.Postgres)
        {
            Name = "automator67",
        }.Build());
        services.AddSingleton<DatabaseState>();
        services.AddHostedService<DatabaseMigrator>();

        services.AddOrchestrationRuntime(provider => provider.GetRequiredService<IOptions<DatabaseOptions>>().Value.Postgres);
        services.AddHostedService<OrchestrationServer>();
        services.AddHostedService<RecurringJobSchedule>();
        services.AddRelayQueues();

        services.AddAuth();
        services.AddNodes();
        services.AddApps();
        services.AddRelay();
        services.AddOperations();
        services.AddSweeps();
        services.AddSecrets();
        services.AddAlerts();
        services.AddMetricsFeature();
        services.AddGitHubSignIn();
        services.AddApiProblemDetails();
        services.AddHttpLogging(logging =>
        {
            logging.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
            logging.CombineLogs = true;
        });
        // Unknown fields are refused (a typo must not be ignored silently); bodies are small JSON documents.
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow);
        // A body that does not bind reaches ApiExceptionHandler, which names the field, instead of a bare 400.
        services.Configure<RouteHandlerOptions>(routing => routing.ThrowOnBadRequest = true);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        services.AddHealthEndpoints();
        services.AddOpenApi();
        return builder;
    }

    /// <summary>Middleware and the routes every feature shares; the features map their own groups in Program.cs.</summary>
    public static WebApplication UseControlPlane(this WebApplication app)
    {
        app.UseRequestId();
        app.UseHttpLogging();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapOpenApi();
        app.MapScalarApiReference(options => options.WithTitle("Automator67 API"));
        app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [],
            AsyncAuthorization = [new AdminDashboardAuthorization()],
            DashboardTitle = "Automator67 orchestrations",
            DisplayStorageConnectionString = false,
        });
        return app;
    }

    static void AddLogging(WebApplicationBuilder builder)
    {
        // Structured logs with scopes: ASP.NET Core puts RequestId and TraceId in the scope of every request's lines.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole();
        builder.Services.Configure<JsonConsoleFormatterOptions>(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        builder.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            o.IncludeScopes = true;
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.PostConfigure<ConsoleLoggerOptions>(o => o.FormatterName ??= ConsoleFormatterNames.Json);
        builder.Services.AddOptions<ConsoleLoggerOptions>()
            .Validate(o => ConsoleFormatters.Contains(o.FormatterName), "Setting Logging__Console__FormatterName must be json, simple or systemd.")
            .ValidateOnStart();
    }
}
