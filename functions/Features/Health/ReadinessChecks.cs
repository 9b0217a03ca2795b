using Automator67.Contracts.Queues;
using Automator67.Functions.Database;
using Automator67.Functions.Queues;
using Azure;
using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Health;

/// <summary>The database answers and its schema is migrated.</summary>
public sealed class DatabaseReadinessCheck(NpgsqlDataSource dataSource, DatabaseState state) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"database unreachable: {ex.GetBaseException().Message}");
        }

        return state.IsReady ? HealthCheckResult.Healthy("database reachable, schema migrated") : HealthCheckResult.Unhealthy(state.Problem);
    }
}

/// <summary>
/// The queue service answers and the relay-events queue exists (created on first check). With an identity, also a user
/// delegation key can be had (the identity needs Storage Queue Delegator): without one no relay can enrol. The key is
/// cached, so this asks the service once every few days, not on every probe.
/// </summary>
public sealed class QueueReadinessCheck(QueueServiceClient queues, IOptions<QueueOptions> options, UserDelegationKeys? delegationKeys = null) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var events = queues.GetQueueClient(QueueNames.RelayEvents(options.Value.Prefix));
        try
        {
            await events.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            if (delegationKeys is null || events.CanGenerateSasUri)
            {
                return HealthCheckResult.Healthy($"queue service reachable, {events.Name} present");
            }

            var key = await delegationKeys.GetCurrentAsync(cancellationToken);
            return HealthCheckResult.Healthy($"queue service reachable with an identity, {events.Name} present, user delegation key valid until {key.SignedExpiresOn:O}");
        }
        catch (RequestFailedException ex) when (ex.Status != 0)
        {
            return HealthCheckResult.Unhealthy($"queue service refused: {ex.Status} {ex.ErrorCode}");
        }
        // With an identity (AzureWebJobsStorage__queueServiceUri), no token: no managed identity here, a wrong client id, …
        catch (AuthenticationFailedException ex)
        {
            return HealthCheckResult.Unhealthy($"queue credential failed: {FirstLine(ex.Message)}");
        }
        // Status 0 is a transport failure (refused, reset, timed out); with retries left the SDK wraps them in an AggregateException.
        catch (Exception ex) when (ex is RequestFailedException or AggregateException or HttpRequestException or OperationCanceledException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"queue service unreachable: {ex.GetBaseException().Message}");
        }
    }

    static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
