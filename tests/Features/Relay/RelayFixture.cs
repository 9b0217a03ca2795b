using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Contracts.Queues;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Relay;

/// <summary>
/// A control plane whose events consumer polls an idle queue every 50 ms (so a test waits for its events, not for the
/// back-off), and whose command-path ping runs every <see cref="PingInterval"/> (rarely, unless a test class is about it).
/// </summary>
public class RelayFixture : IAsyncLifetime
{
    public ControlPlaneFixture Cp { get; } = new();

    protected virtual string PingInterval => "01:00:00";

    /// <summary>More settings of a derived fixture, applied last.</summary>
    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    public async ValueTask InitializeAsync()
    {
        Cp.Settings["RelayEvents__MaxPollInterval"] = "00:00:00.050";
        Cp.Settings["Nodes__PingInterval"] = PingInterval;
        Configure(Cp.Settings);
        await Cp.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Cp.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    public string EventsQueue => QueueNames.RelayEvents(Cp.Queues.Prefix);

    /// <summary>Messages in the events queue, visible or not: 0 once the consumer has deleted all it took.</summary>
    public async Task<int> EventsWaitingAsync() =>
        (await Cp.Queues.Service.GetQueueClient(EventsQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount;

    public async Task<JsonElement> NodeAsync(ControlPlaneFixture.Session user, Guid id)
    {
        using var response = await Cp.SendAsync(HttpMethod.Get, $"/api/nodes/{id}", user.AccessToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<T?> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Cp.Database.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)result;
    }

    /// <summary>The reason the consumer gave when it refused the message, once it has.</summary>
    public Task<string?> RefusalAsync(string messageId) =>
        ScalarAsync<string>("SELECT detail->>'reason' FROM a67.audit_events WHERE type = 'relay.event.refused' AND detail->>'messageId' = @id", ("id", messageId));
}

/// <summary>A control plane that pings every heartbeating node every 2 seconds.</summary>
public sealed class PingingRelayFixture : RelayFixture
{
    protected override string PingInterval => "00:00:02";
}
