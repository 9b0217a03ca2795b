using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Features.Operations;
using Automator67.Tests.Infrastructure;
using Npgsql;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// Secrets end to end on the real parts: a secret's value reaches the real container's environment, sealed to the one
/// node that runs the app; afterwards the database, every queue message of the run (recorded on the wire), the control
/// plane's and relays' logs and files, and every API response are searched for it, and it is nowhere in clear.
/// Private-registry pulls use stored credentials; wrong ones fail the pull step saying so.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecretDeliveryTests(SecretDeliveryFixture fixture) : IClassFixture<SecretDeliveryFixture>
{
    OperationsClient Api => new(fixture.Client, fixture.Owner.AccessToken);

    [Fact]
    public async Task Deploy_PutsTheSecretInTheContainersEnvironment_SealedToItsNodeOnly_AndItIsNowhereInClear()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(180));
        var secret = $"a67-secret-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))}";
        var app = await Api.CreateAppAsync("sealed", ct);
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/DB_PASSWORD", new { value = secret }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var spec = JsonSerializer.SerializeToNode(OperationsClient.Spec("v1", 1))!.AsObject();
        spec["secrets"] = new System.Text.Json.Nodes.JsonObject { ["DB_PASSWORD"] = "DB_PASSWORD" };
        await fixture.BothReadyAsync(ct);
        var operation = await Api.DeployAsync(app, spec, ct);
        var finished = await Api.FinishedAsync(operation, () => fixture.ControlPlane.Output, ct);
        Assert.Equal("Succeeded", finished.GetProperty("status").GetString());

        // In the container, as the app sees it.
        var replica = Assert.Single(await Api.ReplicasAsync(app, ct));
        var node = replica.GetProperty("nodeId").GetGuid();
        var inspected = await fixture.Docker.Client.Containers.InspectContainerAsync(replica.GetProperty("containerId").GetString()!, ct);
        Assert.Contains($"DB_PASSWORD={secret}", inspected.Config?.Env ?? []);
        Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(replica, ct), StringComparison.Ordinal);

        // On the wire: start commands carry it sealed, only to the node that runs the replica, and only that node's key opens it.
        var commands = Commands();
        var sealedStarts = commands.Where(c => c.Envelope.Kind == CommandKinds.RunReplica && c.Envelope.Body.TryGetProperty("sealedEnv", out _)).ToList();
        Assert.NotEmpty(sealedStarts);
        Assert.All(sealedStarts, c => Assert.Equal(node, c.Envelope.NodeId));
        var running = fixture.Relays.Single(r => r.NodeId == node);
        var other = fixture.Relays.Single(r => r.NodeId != node);
        var box = sealedStarts[0].Envelope.Body.GetProperty("sealedEnv").GetString()!;
        using (var key = SealingKeyOf(running))
        {
            Assert.Contains(secret, Encoding.UTF8.GetString(SealedBox.Open(key, node, SealedBox.Purposes.Env, box)), StringComparison.Ordinal);
        }

        using (var otherKey = SealingKeyOf(other))
        {
            Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(otherKey, node, SealedBox.Purposes.Env, box));
        }

        await AssertNowhereInClearAsync(secret, ct);
    }

    [Fact]
    public async Task PrivateRegistry_PullsWithTheStoredCredentials_AndWrongOnesFailThePullStepClearly()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(180));
        var registry = fixture.Registry;
        var wrongPassword = $"wrong-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        await CreateRegistryAsync("private", PrivateRegistryFixture.Password, ct);
        await CreateRegistryAsync("private-wrong", wrongPassword, ct);
        using (var list = await Api.SendAsync(HttpMethod.Get, "/api/registries"))
        {
            var names = (await list.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray().Select(r => r.GetProperty("name").GetString()).ToList();
            Assert.Contains("private", names);
            Assert.Contains("private-wrong", names);
        }

        // The right credentials: the pull works and the replica answers.
        await registry.ForgetImageAsync(ct);
        var good = await Api.CreateAppAsync("private", ct);
        await fixture.BothReadyAsync(ct);
        var deployed = await Api.FinishedAsync(await Api.DeployAsync(good, PrivateSpec("private"), ct), () => fixture.ControlPlane.Output, ct);
        Assert.Equal("Succeeded", deployed.GetProperty("status").GetString());
        Assert.Contains("automator67 sample v1", await OperationsClient.AnswerAsync(Assert.Single(await Api.ReplicasAsync(good, ct)), ct), StringComparison.Ordinal);
        Assert.Contains(Commands(), c => c.Envelope.Kind == CommandKinds.PullImage && c.Envelope.Body.TryGetProperty("sealedCredentials", out _));
        Assert.DoesNotContain(Commands(), c => c.Envelope.Kind == CommandKinds.PullImage && c.Envelope.Body.TryGetProperty("credentials", out var clear)
            && clear.ValueKind != JsonValueKind.Null);

        // Wrong credentials: every pull attempt fails saying the registry refused them, and the deployment rolls back.
        await registry.ForgetImageAsync(ct);
        var bad = await Api.CreateAppAsync("refused", ct);
        await fixture.BothReadyAsync(ct);
        var refused = await Api.FinishedAsync(await Api.DeployAsync(bad, PrivateSpec("private-wrong"), ct), () => fixture.ControlPlane.Output, ct);
        Assert.Equal("RolledBack", refused.GetProperty("status").GetString());
        Assert.Contains($"the registry {registry.Registry} refused the credentials given for it", refused.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(refused.GetProperty("history").EnumerateArray(), h => h.GetProperty("step").GetString() == "pull"
            && h.GetProperty("message").GetString()!.Contains("refused the credentials", StringComparison.Ordinal));

        await AssertNowhereInClearAsync(PrivateRegistryFixture.Password, ct);
        await AssertNowhereInClearAsync(wrongPassword, ct);
    }

    System.Text.Json.Nodes.JsonObject PrivateSpec(string registry)
    {
        var spec = JsonSerializer.SerializeToNode(OperationsClient.Spec("v1", 1))!.AsObject();
        spec["image"] = fixture.Registry.Image;
        spec["registry"] = registry;
        return spec;
    }

    async Task CreateRegistryAsync(string name, string password, CancellationToken ct)
    {
        using var created = await Api.SendAsync(HttpMethod.Post, "/api/registries",
            new { name, server = fixture.Registry.Registry, username = PrivateRegistryFixture.Username, password });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync(ct));
    }

    /// <summary>Every command message seen on the wire, verified as far as parsing goes (the payload decoded from the JWS).</summary>
    List<(string Message, CommandEnvelope Envelope)> Commands() =>
        [.. fixture.Queues.Messages().Select(m => (Message: m, Payload: Payload(m)))
            .Where(m => m.Payload is not null && Jws.PeekKid(m.Message) is { } kid && !Guid.TryParse(kid, out _))
            .Select(m => (m.Message, JsonSerializer.Deserialize(m.Payload!, RelayJsonContext.Default.CommandEnvelope)!))];

    static byte[]? Payload(string compact)
    {
        var parts = compact.Split('.');
        try
        {
            return parts.Length == 3 ? Base64Url.DecodeFromChars(parts[1]) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    static ECDiffieHellman SealingKeyOf(NodeRelay.RelayHarness relay)
    {
        var key = ECDiffieHellman.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(relay.ReadState()["sealingPrivateKey"]!.GetValue<string>()), out _);
        return key;
    }

    /// <summary>
    /// The value is in none of: any table of the database (text, or bytea as hex), any queue message (raw, and its JWS
    /// payload decoded), the control plane's and relays' output, the relays' state files (journal included), any API
    /// response. Base64 forms are looked for too: a value merely encoded is still in clear.
    /// </summary>
    async Task AssertNowhereInClearAsync(string value, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        string[] forms = [value, Convert.ToHexStringLower(bytes), Convert.ToBase64String(bytes).TrimEnd('='), Base64Url.EncodeToString(bytes)];
        void Absent(string where, string text)
        {
            foreach (var form in forms)
            {
                Assert.False(text.Contains(form, StringComparison.OrdinalIgnoreCase), $"the secret appears in {where}");
            }
        }

        await using (var connection = new NpgsqlConnection(fixture.ControlPlane.Database.ConnectionString))
        {
            await connection.OpenAsync(ct);
            var tables = new List<string>();
            await using (var list = new NpgsqlCommand("SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')", connection))
            await using (var reader = await list.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    tables.Add(reader.GetString(0));
                }
            }

            Assert.Contains("a67.secrets", tables);
            foreach (var table in tables)
            {
                await using var dump = new NpgsqlCommand($"SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') FROM {table} t", connection);
                Absent($"table {table}", (string)(await dump.ExecuteScalarAsync(ct))!);
            }
        }

        var messages = fixture.Queues.Messages();
        Assert.NotEmpty(messages);
        Absent("the queue traffic", fixture.Queues.Text);
        foreach (var message in messages)
        {
            Absent("a queue message", message);
            if (Payload(message) is { } payload)
            {
                Absent("a queue message's payload", Encoding.UTF8.GetString(payload));
            }
        }

        Absent("the control plane's output", fixture.ControlPlane.Output);
        foreach (var relay in fixture.Relays)
        {
            Absent("a relay's output", relay.Output);
            foreach (var file in Directory.EnumerateFiles(relay.StateDirectory, "*", SearchOption.AllDirectories))
            {
                Absent($"the relay file {file}", await File.ReadAllTextAsync(file, ct));
            }
        }

        Absent("the API's responses", string.Join("\n", fixture.Responses.Bodies));
    }
}
