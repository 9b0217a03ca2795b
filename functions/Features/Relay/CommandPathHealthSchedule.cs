using Automator67.Functions.Database;
using Automator67.Functions.Features.Nodes;
using Hangfire;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Relay;

/// <summary>
/// Registers <see cref="CommandPathHealthJob"/> as a recurring job once the database (and Hangfire's schema) is in
/// place. Idempotent: every process does it at start, and the last interval set wins.
/// </summary>
public sealed partial class CommandPathHealthSchedule(
    DatabaseState database,
    IRecurringJobManager recurringJobs,
    IOptions<NodeOptions> options,
    ILogger<CommandPathHealthSchedule> logger) : BackgroundService
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

        var cron = options.Value.PingCron();
        for (var delay = TimeSpan.FromSeconds(1); !stoppingToken.IsCancellationRequested; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerMinute)))
        {
            try
            {
                recurringJobs.AddOrUpdate<CommandPathHealthJob>(CommandPathHealthJob.RecurringJobId, job => job.RunAsync(CancellationToken.None), cron,
                    new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
                LogScheduled(CommandPathHealthJob.RecurringJobId, cron);
                return;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                LogNotScheduled(CommandPathHealthJob.RecurringJobId, delay, ex.GetBaseException().Message);
                await Task.Delay(delay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(EventId = 1631, Level = LogLevel.Information, Message = "Recurring job {JobId} scheduled ({Cron})")]
    partial void LogScheduled(string jobId, string cron);

    [LoggerMessage(EventId = 1632, Level = LogLevel.Warning, Message = "Recurring job {JobId} not scheduled yet, retrying in {Delay}: {Reason}")]
    partial void LogNotScheduled(string jobId, TimeSpan delay, string reason);
}
