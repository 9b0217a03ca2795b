using Npgsql;

namespace Automator67.Functions.Database;

/// <summary>Reading rows into values.</summary>
public static class DbReads
{
    /// <summary>Runs the command and turns every row it returns into a value with <paramref name="read"/>, in order.</summary>
    public static async Task<List<T>> ReadAllAsync<T>(this NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
