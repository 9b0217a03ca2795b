namespace Automator67.Functions.Database;

public sealed partial class DatabaseMigrator
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Database ready: {AppliedMigrations} migration(s) applied")]
    partial void LogMigrated(int appliedMigrations);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Database unreachable (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    partial void LogUnreachable(int attempt, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Critical, Message = "Database migration failed and will not be retried: {Reason}")]
    partial void LogFailed(Exception exception, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Evolve: {EvolveMessage}")]
    partial void LogEvolve(string evolveMessage);
}
