using Automator67.Hosting;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Orchestrations.Runtime;

public static class OrchestrationRuntime
{
    /// <summary>
    /// Registers Hangfire's PostgreSQL storage. The schema is not touched here: <see cref="InstallSchemaAsync"/> runs
    /// with the migrations, so the process starts (and answers /readyz) while the database is still unreachable.
    /// </summary>
    public static IServiceCollection AddOrchestrationRuntime(this IServiceCollection services, Func<IServiceProvider, string> connectionString)
    {
        services.AddSettings<OrchestrationOptions>(OrchestrationOptions.Section);

        services.AddHangfire((provider, configuration) =>
        {
            var options = provider.GetRequiredService<IOptions<OrchestrationOptions>>().Value;
            configuration
                .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                .UsePostgreSqlStorage(
                    bootstrap => bootstrap.UseNpgsqlConnection(connectionString(provider)),
                    StorageOptions(options));
        });
        return services;
    }

    /// <summary>Creates or upgrades Hangfire's tables; idempotent and safe to run from several processes.</summary>
    public static async Task InstallSchemaAsync(NpgsqlDataSource dataSource, OrchestrationOptions options, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Hangfire's installer races with itself (two processes both CREATE SCHEMA); a session lock serialises them.
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            lockCommand.Parameters.AddWithValue("key", InstallLockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            PostgreSqlObjectsInstaller.Install(connection, options.SchemaName);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", InstallLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    // Any fixed bigint unique to this purpose; "a67hfins" in ASCII.
    const long InstallLockKey = 0x6136376866696E73;

    static PostgreSqlStorageOptions StorageOptions(OrchestrationOptions options) => new()
    {
        SchemaName = options.SchemaName,
        PrepareSchemaIfNecessary = false,
        UseSlidingInvisibilityTimeout = true,
        InvisibilityTimeout = options.InvisibilityTimeout,
        QueuePollInterval = options.QueuePollInterval,
        EnableLongPolling = true,
        DistributedLockTimeout = options.DistributedLockTimeout,
    };
}
