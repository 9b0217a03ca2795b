namespace Automator67.Tests.Features.Relay;

/// <summary>
/// A control plane whose consumer lets a message it took come back after 5 s (the least allowed), so messages held by
/// a killed process return within a test, and which logs each redelivery it recognises as applied already.
/// </summary>
public sealed class QuickRedeliveryRelayFixture : RelayFixture
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["RelayEvents__VisibilityTimeout"] = "00:00:05";
        settings[$"Logging__LogLevel__{typeof(Automator67.Functions.Features.Relay.RelayEventsConsumer).FullName}"] = "Debug";
    }
}
