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
            catch (Exception ex) when (PermanentFailure(ex) is { } reason)
            {
                // The server answered and refused, or the migrations do not fit this database: retrying cannot help.
                state.MarkNotReady($"database migration failed: {reason}");
                LogFailed(ex, reason);
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
                // Features land from parallel branches, each migration touching its own tables: a database that already
                // has V5 still takes a V4 merged later, instead of refusing to start.
                OutOfOrder = true,
            };
            // Evolve is synchronous; the connection is ours alone, so running it on the pool is fine.
            await Task.Run(evolve.Migrate, cancellationToken);
            applied = evolve.NbMigration;
        }

        await OrchestrationRuntime.InstallSchemaAsync(dataSource, orchestration.Value, cancellationToken);
        return applied;
    }

    /// <summary>Why migrating can never succeed as things stand, or null when the failure may pass (a network outage).</summary>
    static string? PermanentFailure(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                // Class 08 (connection exception) and 57P (shutdown in progress) are transient; the rest is a real refusal.
                case PostgresException pg when !pg.SqlState.StartsWith("08", StringComparison.Ordinal) && !pg.SqlState.StartsWith("57P", StringComparison.Ordinal):
                    return pg.MessageText;
                case NpgsqlException or System.Net.Sockets.SocketException or TimeoutException:
                    return null;
                case EvolveValidationException or EvolveConfigurationException:
                    return current.Message;
            }
        }

        return null;
    }
}
