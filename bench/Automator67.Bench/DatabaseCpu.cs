using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// CPU spent by the PostgreSQL backends serving the run's own database (one process per connection), read from
/// <c>/proc</c>: the part of a request's cost that the control plane's own CPU time does not show. Works when
/// PostgreSQL runs on this machine, as the local stack's does; elsewhere it reads nothing and the report says "-".
/// </summary>
public sealed class DatabaseCpu(string adminConnectionString, string database)
{
    /// <summary>Clock ticks used so far by each backend of the database, by process id.</summary>
    public async Task<IReadOnlyDictionary<int, long>> ReadAsync(CancellationToken ct)
    {
        await using var source = NpgsqlDataSource.Create(adminConnectionString);
        await using var command = source.CreateCommand("SELECT pid FROM pg_stat_activity WHERE datname = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = database });
        var ticks = new Dictionary<int, long>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var pid = reader.GetInt32(0);
            if (ProcFiles.CpuTicks(pid) is { } used)
            {
                ticks[pid] = used;
            }
        }

        return ticks;
    }

    /// <summary>Ticks used between two readings; a backend that started in between counts from its start.</summary>
    public static long? Used(IReadOnlyDictionary<int, long> before, IReadOnlyDictionary<int, long> after) =>
        after.Count == 0 ? null : after.Sum(p => p.Value - before.GetValueOrDefault(p.Key));
}
