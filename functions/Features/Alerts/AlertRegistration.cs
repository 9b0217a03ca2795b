using Automator67.Functions.Hosting;
using Automator67.Hosting;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Alerts;

public static class AlertRegistration
{
    /// <summary>Webhooks, alert rules, the recurring evaluation and the delivery jobs with their HTTP client.</summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddSettings<AlertOptions>(AlertOptions.Section);
        services.AddSingleton<WebhookUrlPolicy>();
        services.AddSingleton<WebhookStore>();
        services.AddSingleton<AlertRuleStore>();
        services.AddSingleton<AlertStore>();
        services.AddSingleton<DeliveryStore>();
        services.AddSingleton<ThresholdEvaluation>();
        services.AddSingleton<AlertEvaluator>();
        services.AddScoped<AlertJobs>();
        services.AddScoped<WebhookDeliveryJob>();

        // Receivers are other people's servers: no redirects (a 3xx is a failed attempt, so a webhook cannot bounce
        // the control plane to another host), no proxy (the connection must reach the address the policy checked),
        // and every connection through the policy.
        var client = services.AddHttpClient(WebhookDeliveryJob.HttpClientName, (provider, http) =>
                http.Timeout = provider.GetRequiredService<IOptions<AlertOptions>>().Value.DeliveryTimeout)
            .ConfigurePrimaryHttpMessageHandler(provider => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseProxy = false,
                UseCookies = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                ConnectCallback = provider.GetRequiredService<WebhookUrlPolicy>().ConnectAsync,
            });
        client.RemoveAllLoggers();

        services.AddSingleton(provider => new RecurringJobDefinition(AlertJobs.EvaluationJobId,
            provider.GetRequiredService<IOptions<AlertOptions>>().Value.EvaluationCron,
            (jobs, cron) => jobs.AddOrUpdate<AlertJobs>(AlertJobs.EvaluationJobId, job => job.EvaluateAsync(CancellationToken.None), cron,
                new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc })));
        return services;
    }

    /// <summary>The feature's routes: <c>/api/webhooks</c>, <c>/api/alert-rules</c>, <c>/api/alerts</c>.</summary>
    public static IEndpointRouteBuilder MapAlertRoutes(this IEndpointRouteBuilder routes)
    {
        routes.MapWebhooks();
        routes.MapAlertRules();
        routes.MapAlerts();
        return routes;
    }
}
