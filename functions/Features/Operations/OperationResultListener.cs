using Automator67.Functions.Features.Relay;
using Npgsql;

namespace Automator67.Functions.Features.Operations;

/// <summary>A result event advances its operation at once, in the queue function, instead of waiting for a wake-up.</summary>
public sealed class OperationResultListener(NpgsqlDataSource dataSource, OperationEngine engine) : ICommandResultListener
{
    public async Task OnCompletedAsync(CommandOutcome completed, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT operation_id FROM a67.relay_commands WHERE id = @id");
        command.Parameters.AddWithValue("id", completed.CommandId);
        if (await command.ExecuteScalarAsync(ct) is Guid operationId)
        {
            await engine.AdvanceAsync(operationId, ct);
        }
    }
}
