using Automator67.Functions.Database;
using Hangfire;

namespace Automator67.Functions.Hosting;

/// <summary>A recurring Hangfire job a feature registers: its id, its cron, and how to add it.</summary>
public sealed record RecurringJobDefinition(string Id, Func<string> Cron, Action<IRecurringJobManager, string> AddOrUpdate);

/// <summary>
/// Registers every <see cref="RecurringJobDefinition"/> once the database (and Hangfire's schema) is in place, retrying
/// with back-off while it is not. Idempotent: every process does it at start, and the last interval set wins;
/// Hangfire runs each job once per tick across all processes.
/// </summary>
public sealed partial class RecurringJobSchedule(
    DatabaseState database,
    IRecurringJobManager recurringJobs,
    IEnumerable<RecurringJobDefinition> definitions,
    ILogger<RecurringJobSchedule> logger) : BackgroundService
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

        foreach (var definition in definitions)
        {
            var cron = definition.Cron();
            for (var delay = TimeSpan.FromSeconds(1); !stoppingToken.IsCancellationRequested; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerMinute)))
            {
                try
                {
                    definition.AddOrUpdate(recurringJobs, cron);
                    LogScheduled(definition.Id, cron);
                    break;
                }
                catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    LogNotScheduled(definition.Id, delay, ex.GetBaseException().Message);
                    await Task.Delay(delay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                }
            }
        }
    }

    [LoggerMessage(EventId = 1631, Level = LogLevel.Information, Message = "Recurring job {JobId} scheduled ({Cron})")]
    partial void LogScheduled(string jobId, string cron);

    [LoggerMessage(EventId = 1632, Level = LogLevel.Warning, Message = "Recurring job {JobId} not scheduled yet, retrying in {Delay}: {Reason}")]
    partial void LogNotScheduled(string jobId, TimeSpan delay, string reason);
}
