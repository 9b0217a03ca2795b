using Azure.Storage.Queues;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// What one run makes outside itself, named with its run id: a database of its own, the queues under its own
/// prefix (the control plane's readiness check creates one), and a temporary folder for the signing keys. All of it
/// is removed on dispose, whatever happened in between, like the tests' fixtures.
/// </summary>
public sealed class RunResources : IAsyncDisposable
{
    readonly BenchSettings _settings;
    bool _databaseCreated;

    RunResources(BenchSettings settings)
    {
        _settings = settings;
        KeyDirectory = Directory.CreateTempSubdirectory("a67-bench-keys-").FullName;
    }

    public string KeyDirectory { get; }

    public string ConnectionString => new NpgsqlConnectionStringBuilder(_settings.Postgres) { Database = _settings.DatabaseName }.ConnectionString;

    /// <summary>Creates the run's database; a dispose still cleans up when this throws.</summary>
    public static async Task<RunResources> CreateAsync(BenchSettings settings, CancellationToken ct)
    {
        var resources = new RunResources(settings);
        try
        {
            await using var admin = NpgsqlDataSource.Create(settings.Postgres);
            await using var create = admin.CreateCommand($"CREATE DATABASE \"{settings.DatabaseName}\"");
            await create.ExecuteNonQueryAsync(ct);
            resources._databaseCreated = true;
            return resources;
        }
        catch
        {
            await resources.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Each part on its own: a failure to delete the queues must not leave the database behind.
        if (_databaseCreated)
        {
            await Cleanup.AttemptAsync("drop the database", async () =>
            {
                NpgsqlConnection.ClearAllPools();
                await using var admin = NpgsqlDataSource.Create(_settings.Postgres);
                await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS \"{_settings.DatabaseName}\" WITH (FORCE)");
                await drop.ExecuteNonQueryAsync();
            });
        }

        await Cleanup.AttemptAsync("delete the queues", async () =>
        {
            var service = new QueueServiceClient(_settings.Storage);
            await foreach (var queue in service.GetQueuesAsync(prefix: _settings.QueuePrefix))
            {
                await service.DeleteQueueAsync(queue.Name);
            }
        });
        await Cleanup.AttemptAsync("delete the key folder", () =>
        {
            Directory.Delete(KeyDirectory, recursive: true);
            return Task.CompletedTask;
        });
    }
}
