using System.Security.Cryptography;
using Automator67.Tests.Infrastructure;
using Automator67.Tests.NodeRelay;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// A node's sealing key: registered at enrolment, and by a node enrolled before sealing existed (no sealing key in its
/// state) through a credential renewal signed with its node key, as soon as its relay starts.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SealingKeyRegistrationTests : IAsyncLifetime
{
    readonly ControlPlaneFixture _cp = new();
    readonly DockerFixture _docker = new();

    public async ValueTask InitializeAsync()
    {
        await _cp.InitializeAsync();
        await _docker.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _docker.DisposeAsync();
        await _cp.DisposeAsync();
    }

    [Fact]
    public async Task Enrol_RegistersTheSealingKey_AndAnOlderNodeRegistersOneWhenItsRelayStarts()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        await using var relay = await RelayHarness.EnrolAsync(_cp, _docker, new RelayEvents(_cp), ct);
        var enrolled = relay.ReadState();
        Assert.Equal(PublicKeyOf(enrolled["sealingPrivateKey"]!.GetValue<string>()), await SealingKeyAsync(relay.NodeId, ct));

        // As a node enrolled before issue 7 looks: no sealing key on either side.
        enrolled.AsObject().Remove("sealingPrivateKey");
        enrolled.AsObject().Remove("sealingKeyRegisteredAt");
        relay.WriteState(enrolled);
        await using (var clear = _cp.Database.DataSource.CreateCommand("UPDATE a67.nodes SET sealing_key = NULL WHERE id = @id"))
        {
            clear.Parameters.AddWithValue("id", relay.NodeId);
            await clear.ExecuteNonQueryAsync(ct);
        }

        await relay.StartAsync(ct);
        byte[]? registered;
        while ((registered = await SealingKeyAsync(relay.NodeId, ct)) is null)
        {
            await Task.Delay(100, ct);
        }

        var state = relay.ReadState();
        Assert.Equal(PublicKeyOf(state["sealingPrivateKey"]!.GetValue<string>()), registered);
        while (relay.ReadState()["sealingKeyRegisteredAt"] is null)
        {
            await Task.Delay(100, ct);
        }

        // The renewal says why it ran (its log line may reach the output a little after the state file).
        while (!relay.Output.Contains("sealing key is not registered yet", StringComparison.Ordinal))
        {
            await Task.Delay(100, ct);
        }
    }

    static byte[] PublicKeyOf(string pkcs8)
    {
        using var key = ECDiffieHellman.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(pkcs8), out _);
        return key.ExportSubjectPublicKeyInfo();
    }

    async Task<byte[]?> SealingKeyAsync(Guid node, CancellationToken ct)
    {
        await using var command = _cp.Database.DataSource.CreateCommand("SELECT sealing_key FROM a67.nodes WHERE id = @id");
        command.Parameters.AddWithValue("id", node);
        return await command.ExecuteScalarAsync(ct) as byte[];
    }
}
