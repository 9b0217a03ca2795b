using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Azure.Storage.Queues;
using Azure.Storage.Sas;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// The relay keeps its own credentials current: half-way through their lifetime, when the queue service refuses
/// them (expired), and when a command names a command key it has not heard of (the control plane rotated).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CredentialRenewalTests(RelayRunFixture fixture) : IClassFixture<RelayRunFixture>, IAsyncDisposable
{
    readonly RelayScope _scope = new(fixture);

    public ValueTask DisposeAsync() => _scope.DisposeAsync();

    [Fact]
    public async Task Relay_RenewsItsCredentials_HalfWayThroughTheirLifetime()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct, start: false);
        var state = relay.ReadState();
        var enrolledExpiry = state["queues"]!["expiresAt"]!.GetValue<DateTimeOffset>();
        // Issued so long ago that half the lifetime has passed: the renewal is due as the relay starts.
        state["credentialsIssuedAt"] = (enrolledExpiry - TimeSpan.FromDays(30)).ToString("O");
        relay.WriteState(state);
        await relay.StartAsync(ct);

        await RelayScope.WaitUntilAsync(() => Task.FromResult(relay.Output.Contains("Renewed the queue credentials", StringComparison.Ordinal)), ct);
        var renewed = relay.ReadState();
        var renewedExpiry = renewed["queues"]!["expiresAt"]!.GetValue<DateTimeOffset>();
        Assert.True(renewedExpiry > enrolledExpiry, $"{renewedExpiry:O} should be later than {enrolledExpiry:O}");
        Assert.True(renewed["credentialsIssuedAt"]!.GetValue<DateTimeOffset>() > DateTimeOffset.UtcNow.AddMinutes(-1));

        // The control plane shows the same expiry, and the relay works on with the new credentials.
        using var node = await fixture.ControlPlane.SendAsync(HttpMethod.Get, $"/api/nodes/{relay.NodeId}", relay.Owner.AccessToken);
        var shown = (await node.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("credentialExpiresAt").GetDateTimeOffset();
        Assert.Equal(renewedExpiry, shown, TimeSpan.FromMilliseconds(1)); // PostgreSQL keeps microseconds
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct)).Status);
        Assert.DoesNotContain("Could not renew", relay.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_WithExpiredQueueCredentials_RenewsThemAndCarriesOn()
    {
        var ct = TestEnvironment.TimeCap();
        var relay = await _scope.RelayAsync(ct, start: false);
        // Credentials that expired a minute ago, for the same queues: the queue service answers 403 to every call.
        var service = new QueueServiceClient(TestEnvironment.Storage);
        var expired = DateTimeOffset.UtcNow.AddMinutes(-1);
        var state = relay.ReadState();
        var queues = state["queues"]!;
        queues["commandQueue"] = relay.CommandQueue.GenerateSasUri(QueueSasPermissions.Read | QueueSasPermissions.Process | QueueSasPermissions.Update, expired).ToString();
        queues["eventsQueue"] = service.GetQueueClient(Automator67.Contracts.Queues.QueueNames.RelayEvents(fixture.ControlPlane.Queues.Prefix))
            .GenerateSasUri(QueueSasPermissions.Add, expired).ToString();
        // The state still says they are good for days (as after a revocation or a clock jump), so no renewal is due:
        // only the queue service's refusal can trigger it.
        relay.WriteState(state);

        var waiting = await relay.EnqueueAsync(relay.Sign(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString), ct);
        await relay.StartAsync(ct);

        Assert.Equal(ResultStatuses.Succeeded, (await relay.ResultAsync(waiting, ct)).Status);
        Assert.Contains("refused the credentials", relay.Output, StringComparison.Ordinal);
        Assert.True(relay.ReadState()["queues"]!["expiresAt"]!.GetValue<DateTimeOffset>() > DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public async Task Command_SignedWithARotatedKey_IsVerifiedAfterTheRelayFetchesTheNewKeys()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var relay = await _scope.RelayAsync(ct);
        Assert.Equal(ResultStatuses.Succeeded, (await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct)).Status);

        // Rotate the control plane's command key as it does when the active one grows old: the old one is retired
        // (it still verifies for a day), a new one signs. The relay learnt only the old one at enrolment.
        await fixture.ControlPlane.StopAsync();
        var (kid, key) = Rotate(fixture.ControlPlane.CommandSigningKeyFile);
        await fixture.ControlPlane.StartAsync();

        var signed = relay.Sign(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, key: key, kid: kid);
        var result = await relay.ResultAsync(await relay.EnqueueAsync(signed, ct), ct);
        Assert.True(result.Status == ResultStatuses.Succeeded, result.Error);
        Assert.Contains(kid, relay.ReadState()["commandSigningKeys"]!.AsArray().Select(k => k!["kid"]!.GetValue<string>()));

        // A key the control plane does not have either is still refused, after one more look at most.
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = relay.Sign(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, key: stranger, kid: "not-a-key-of-ours");
        var claimed = (await relay.EnqueueAsync(forged, ct)).ToString();
        // An unverified command is reported under the empty id, with the id it claimed in its output.
        var refused = await relay.ResultAsync(r => r.Output is { } output && output.GetRawText().Contains(claimed, StringComparison.Ordinal), ct);
        Assert.Equal(ResultStatuses.Refused, refused.Status);
        Assert.Equal(Jws.UnknownKey, refused.Error);
        Assert.DoesNotContain("not-a-key-of-ours, which this relay does not know yet", relay.Output, StringComparison.Ordinal);
    }

    // Retires the active key in the ring's file and appends a new one, as SigningKeyRing.LoadOrRotate does.
    static (string Kid, ECDsa Key) Rotate(string file)
    {
        var ring = JsonNode.Parse(File.ReadAllText(file))!;
        var keys = ring["keys"]!.AsArray();
        var now = DateTimeOffset.UtcNow;
        keys[^1]!["retiredAt"] = now.ToString("O");
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var kid = $"rotated-{Guid.NewGuid():N}"[..20];
        keys.Add(new JsonObject
        {
            ["kid"] = kid,
            ["createdAt"] = now.ToString("O"),
            ["retiredAt"] = null,
            ["privateKey"] = Convert.ToBase64String(key.ExportPkcs8PrivateKey()),
        });
        File.WriteAllText(file, ring.ToJsonString());
        return (kid, key);
    }
}
