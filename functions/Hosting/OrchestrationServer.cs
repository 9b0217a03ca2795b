using Automator67.Functions.Database;
using Automator67.Orchestrations.Runtime;
using Hangfire;
using Hangfire.Common;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Hosting;

/// <summary>
/// Runs this process's Hangfire server once the database is migrated. Hangfire's own hosted service would start at
/// once and fail against a database that is not there yet; this one waits, then stops gracefully on SIGTERM, leaving
/// unfinished jobs to be picked up again (every job is re-entrant).
/// </summary>
public sealed partial class OrchestrationServer(
    IServiceProvider services,
    DatabaseState database,
    IOptions<OrchestrationOptions> options,
    ILogger<OrchestrationServer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await database.WhenReadyAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var settings = options.Value;
        var serverOptions = new BackgroundJobServerOptions
        {
            ServerName = $"{Environment.MachineName}:{Environment.ProcessId}",
            WorkerCount = settings.WorkerCount,
            SchedulePollingInterval = settings.SchedulePollingInterval,
            ShutdownTimeout = settings.ShutdownTimeout,
            Activator = services.GetRequiredService<JobActivator>(),
            FilterProvider = services.GetService<IJobFilterProvider>() ?? JobFilterProviders.Providers,
        };
        using var server = new BackgroundJobServer(serverOptions, services.GetRequiredService<JobStorage>());
        LogStarted(serverOptions.ServerName, settings.WorkerCount);
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            server.SendStop();
            await server.WaitForShutdownAsync(CancellationToken.None);
            LogStopped(serverOptions.ServerName);
        }
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Orchestration server {ServerName} started with {WorkerCount} workers")]
    partial void LogStarted(string serverName, int workerCount);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Orchestration server {ServerName} stopped")]
    partial void LogStopped(string serverName);
}
