using Automator67.Functions.Database;
using Automator67.Orchestrations.Runtime;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Features.Apps;

/// <summary>A database of its own with every migration applied, for tests of a store without a control-plane process.</summary>
public sealed class MigratedDatabaseFixture : IAsyncLifetime
{
    public DatabaseFixture Database { get; } = new();

    public async ValueTask InitializeAsync()
    {
        await Database.InitializeAsync();
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await new DatabaseMigrator(Database.DataSource, new DatabaseState(), Options.Create(new OrchestrationOptions()), TimeProvider.System,
            NullLogger<DatabaseMigrator>.Instance).MigrateAsync(cap.Token);
    }

    public ValueTask DisposeAsync() => Database.DisposeAsync();
}
