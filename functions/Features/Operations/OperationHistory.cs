using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Operations;

/// <summary>The append-only history of operations: written with the advance that made it, never changed.</summary>
public static class OperationHistory
{
    public static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid operationId, IReadOnlyList<HistoryEntry> entries, CancellationToken ct)
    {
        if (entries.Count == 0)
        {
            return;
        }

        await using var command = new NpgsqlCommand("""
            INSERT INTO a67.operation_history (operation_id, at, type, step, message, data)
            SELECT @op, e.at, e.type, e.step, e.message, e.data::jsonb
            FROM unnest(@at, @type, @step, @message, @data) WITH ORDINALITY AS e (at, type, step, message, data, n)
            ORDER BY e.n
            """, connection, transaction);
        command.Parameters.AddWithValue("op", operationId);
        command.Parameters.AddWithValue("at", entries.Select(e => e.At).ToArray());
        command.Parameters.AddWithValue("type", entries.Select(e => e.Type).ToArray());
        command.Parameters.Add(new NpgsqlParameter("step", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = entries.Select(e => (object?)e.Step ?? DBNull.Value).ToArray() });
        command.Parameters.AddWithValue("message", entries.Select(e => e.Message.Length > 2000 ? e.Message[..2000] : e.Message).ToArray());
        command.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = entries.Select(e => e.Data is null ? (object)DBNull.Value : JsonSerializer.Serialize(e.Data)).ToArray(),
        });
        await command.ExecuteNonQueryAsync(ct);
    }

    public static async Task<IReadOnlyList<HistoryEntryView>> ReadAsync(NpgsqlDataSource dataSource, Guid operationId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT seq, at, type, step, message, data::text FROM a67.operation_history WHERE operation_id = @op ORDER BY seq");
        command.Parameters.AddWithValue("op", operationId);
        var entries = new List<HistoryEntryView>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            entries.Add(new HistoryEntryView(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4), reader.IsDBNull(5) ? null : JsonSerializer.Deserialize<JsonElement>(reader.GetString(5))));
        }

        return entries;
    }
}
