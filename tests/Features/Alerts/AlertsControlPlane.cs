using System.Net;
using System.Text.Json;
using Automator67.Functions.Features.Events;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Alerts;

/// <summary>A control plane that evaluates alerts every second and retries deliveries after a second.</summary>
public sealed class AlertsControlPlane : IAsyncLifetime
{
    public ControlPlaneFixture Cp { get; } = new();

    public async ValueTask InitializeAsync()
    {
        Cp.Settings["Alerts__EvaluationSeconds"] = "1";
        Cp.Settings["Alerts__FirstRetryDelay"] = "00:00:01";
        Cp.Settings["Alerts__MaxAttempts"] = "3";
        await Cp.InitializeAsync();
    }

    public ValueTask DisposeAsync() => Cp.DisposeAsync();

    public async Task WriteEventAsync(AppEvent e, CancellationToken ct)
    {
        await using var connection = await Cp.Database.DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await EventLog.WriteAsync(connection, transaction, e, ct);
        await transaction.CommitAsync(ct);
    }

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, string token, object? body, HttpStatusCode expected, CancellationToken ct)
    {
        using var response = await Cp.SendAsync(method, path, token, body);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }

    /// <summary>Polls <c>GET path</c> until <paramref name="done"/> holds for its answer.</summary>
    public async Task<JsonElement> WaitForAsync(string path, string token, Func<JsonElement, bool> done, CancellationToken ct)
    {
        while (true)
        {
            var answer = await SendAsync(HttpMethod.Get, path, token, null, HttpStatusCode.OK, ct);
            if (done(answer))
            {
                return answer;
            }

            await Task.Delay(200, ct);
        }
    }

    /// <summary>A node row of the account (no relay behind it), so its container stats count for the account.</summary>
    public async Task<Guid> InsertNodeAsync(Guid accountId, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        await using var command = Cp.Database.DataSource.CreateCommand("""
            INSERT INTO a67.nodes (id, account_id, name, public_key, facts, enrolled_at, credential_expires_at)
            VALUES (@id, @account, @name, '\x00', '{}', now(), now() + interval '1 day')
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("name", $"n-{id:N}");
        await command.ExecuteNonQueryAsync(ct);
        return id;
    }

    public async Task InsertStatsAsync(Guid nodeId, Guid appId, DateTimeOffset at, double cpu, long memoryUsed, long memoryLimit, CancellationToken ct)
    {
        await using var command = Cp.Database.DataSource.CreateCommand("""
            INSERT INTO a67.container_stats (node_id, container_id, app, release, replica, at, cpu_percent, memory_used, memory_limit, network_rx, network_tx)
            VALUES (@node, @container, @app, '1', 0, @at, @cpu, @used, @limit, 0, 0)
            """);
        command.Parameters.AddWithValue("node", nodeId);
        command.Parameters.AddWithValue("container", $"c-{appId:N}");
        command.Parameters.AddWithValue("app", appId.ToString("N"));
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("cpu", cpu);
        command.Parameters.AddWithValue("used", memoryUsed);
        command.Parameters.AddWithValue("limit", memoryLimit);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<long> CountAsync(string sql, Guid accountId, CancellationToken ct)
    {
        await using var command = Cp.Database.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("account", accountId);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }
}
