using Automator67.Orchestrations.Runtime;
using EvolveDb;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Database;

/// <summary>
/// Applies the versioned SQL migrations (Evolve, embedded <c>V{n}__{name}.sql</c>) and Hangfire's schema at start,
/// retrying with back-off while the database is unreachable. Evolve's cluster mode takes an advisory lock, so
/// several control-plane processes can start at once.
/// </summary>
public sealed partial class DatabaseMigrator(
    NpgsqlDataSource dataSource,
    DatabaseState state,
    IOptions<OrchestrationOptions> orchestration,
    TimeProvider time,
    ILogger<DatabaseMigrator> logger) : BackgroundService
{
    public const string Schema = "a67";
    static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var applied = await MigrateAsync(stoppingToken);
                state.MarkReady();
                LogMigrated(applied);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (FindServerError(ex) is { } serverError)
            {
                // The server answered and refused: a broken migration or missing rights. Retrying cannot help.
                state.MarkNotReady($"database migration failed: {serverError.MessageText}");
                LogFailed(ex, serverError.MessageText);
                return;
            }
            catch (Exception ex)
            {
                state.MarkNotReady($"database unreachable: {ex.GetBaseException().Message}");
                LogUnreachable(attempt, delay, ex.GetBaseException().Message);
                await Task.Delay(delay, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
            }
        }
    }

    /// <summary>Runs Evolve and then Hangfire's installer; returns how many migrations were applied.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        int applied;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            var evolve = new Evolve(connection, message => LogEvolve(message))
            {
                EmbeddedResourceAssemblies = [typeof(DatabaseMigrator).Assembly],
                EmbeddedResourceFilters = ["Automator67.Functions.Database.Migrations"],
                Schemas = [Schema],
                MetadataTableSchema = Schema,
                MetadataTableName = "changelog",
                IsEraseDisabled = true,
                EnableClusterMode = true,
            };
            // Evolve is synchronous; the connection is ours alone, so running it on the pool is fine.
            await Task.Run(evolve.Migrate, cancellationToken);
            applied = evolve.NbMigration;
        }

        await OrchestrationRuntime.InstallSchemaAsync(dataSource, orchestration.Value, cancellationToken);
        return applied;
    }

    static PostgresException? FindServerError(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            // Class 08 (connection exception) and 57P (shutdown in progress) are transient; the rest is a real refusal.
            if (current is PostgresException pg && !pg.SqlState.StartsWith("08", StringComparison.Ordinal) && !pg.SqlState.StartsWith("57P", StringComparison.Ordinal))
            {
                return pg;
            }
        }

        return null;
    }
}
