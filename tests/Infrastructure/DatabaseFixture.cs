using Npgsql;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// A database of its own for one test class on the real PostgreSQL, named with the run id and dropped afterwards.
/// </summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    static int s_sequence;

    public string Name { get; } = $"a67t_{TestEnvironment.RunId}_{Interlocked.Increment(ref s_sequence)}";

    public string ConnectionString => new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres) { Database = Name }.ConnectionString;

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        await using var admin = NpgsqlDataSource.Create(TestEnvironment.Postgres);
        await using var create = admin.CreateCommand($"CREATE DATABASE \"{Name}\"");
        await create.ExecuteNonQueryAsync();
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await DataSource.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = NpgsqlDataSource.Create(TestEnvironment.Postgres);
        await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
        await drop.ExecuteNonQueryAsync();
    }
}
