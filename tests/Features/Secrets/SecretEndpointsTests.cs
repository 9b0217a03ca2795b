using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// The secrets and registries API against the real control plane: write-only values, problem details naming each bad
/// field, accounts kept apart, audit, deployments refused before any step when what they refer to does not exist, and
/// the admin's key rotation.
/// </summary>
public sealed class SecretEndpointsTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap());

    async Task<Guid> AppAsync(ControlPlaneFixture.Session user)
    {
        using var response = await cp.SendAsync(HttpMethod.Post, "/api/apps", user.AccessToken, new { name = $"s-{Guid.NewGuid():N}"[..20] });
        return (await Json(response)).GetProperty("id").GetGuid();
    }

    static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field, string? says = null)
    {
        var body = await response.Content.ReadAsStringAsync(TestEnvironment.TimeCap());
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {body}");
        var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no problem named {field}: {body}");
        if (says is not null)
        {
            Assert.Contains(says, messages[0].GetString(), StringComparison.Ordinal);
        }
    }

    async Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = cp.Database.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (long)(await command.ExecuteScalarAsync(TestEnvironment.TimeCap()))!;
    }

    [Fact]
    public async Task PutListDelete_NeverShowTheValue_CountVersions_AndAreAudited()
    {
        var user = await cp.SignUpAsync();
        var app = await AppAsync(user);
        const string value = "first-value-4f1c93";

        using var created = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/DB_PASSWORD", user.AccessToken, new { value });
        using var replaced = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/DB_PASSWORD", user.AccessToken, new { value = "second-value-77aa01" });
        using var listed = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{app}/secrets", user.AccessToken);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(1, (await Json(created)).GetProperty("version").GetInt32());
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal(2, (await Json(replaced)).GetProperty("version").GetInt32());
        var list = (await Json(listed)).EnumerateArray().ToList();
        var only = Assert.Single(list);
        Assert.Equal("DB_PASSWORD", only.GetProperty("name").GetString());
        Assert.Equal(2, only.GetProperty("version").GetInt32());
        Assert.False(only.TryGetProperty("value", out _));
        foreach (var response in new[] { created, replaced, listed })
        {
            var text = await response.Content.ReadAsStringAsync(TestEnvironment.TimeCap());
            Assert.DoesNotContain("value-", text, StringComparison.Ordinal);
        }

        using var deleted = await cp.SendAsync(HttpMethod.Delete, $"/api/apps/{app}/secrets/DB_PASSWORD", user.AccessToken);
        using var again = await cp.SendAsync(HttpMethod.Delete, $"/api/apps/{app}/secrets/DB_PASSWORD", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'secret.written' AND account_id = @account AND detail->>'name' = 'DB_PASSWORD'",
            ("account", user.AccountId)));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'secret.deleted' AND account_id = @account AND detail->>'version' = '2'",
            ("account", user.AccountId)));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE detail::text LIKE '%value-%'"));
    }

    [Fact]
    public async Task Put_RefusesBadNamesAndValues_AndOtherAccountsApps()
    {
        var user = await cp.SignUpAsync();
        var stranger = await cp.SignUpAsync();
        var app = await AppAsync(user);

        using (var dashed = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/db-password", user.AccessToken, new { value = "x" }))
        {
            await AssertProblemAsync(dashed, HttpStatusCode.BadRequest, "name", "environment variable name");
        }

        using (var digit = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/1PASSWORD", user.AccessToken, new { value = "x" }))
        {
            await AssertProblemAsync(digit, HttpStatusCode.BadRequest, "name");
        }

        using (var huge = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/BIG", user.AccessToken, new { value = new string('a', 64 * 1024 + 1) }))
        {
            await AssertProblemAsync(huge, HttpStatusCode.BadRequest, "value", "64 KiB");
        }

        using (var missing = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/NONE", user.AccessToken, new { }))
        {
            await AssertProblemAsync(missing, HttpStatusCode.BadRequest, "value");
        }

        using (var exactly = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/MAX", user.AccessToken, new { value = new string('a', 64 * 1024) }))
        {
            Assert.Equal(HttpStatusCode.Created, exactly.StatusCode);
        }

        using var theirs = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/MINE", stranger.AccessToken, new { value = "x" });
        using var theirList = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{app}/secrets", stranger.AccessToken);
        using var nowhere = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{Guid.NewGuid()}/secrets/MINE", user.AccessToken, new { value = "x" });
        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, theirList.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, nowhere.StatusCode);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.secrets WHERE app_id = @app", ("app", app)));
    }

    [Fact]
    public async Task Deploy_IsRefusedBeforeAnyStep_NamingAMissingSecretOrRegistry()
    {
        var user = await cp.SignUpAsync();
        var app = await AppAsync(user);
        using (var registry = await cp.SendAsync(HttpMethod.Post, "/api/registries", user.AccessToken,
            new { name = "elsewhere", server = "registry.example.com", username = "u", password = "p-registry-secret" }))
        {
            Assert.Equal(HttpStatusCode.Created, registry.StatusCode);
        }

        object Spec(object? secrets = null, string? registry = null, string image = "127.0.0.1:5000/a67/sample:v1") =>
            new { image, registry, env = new Dictionary<string, string> { ["PORT"] = "8080" }, secrets };

        using (var missing = await cp.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", user.AccessToken,
            Spec(new Dictionary<string, string> { ["DB_PASSWORD"] = "DB_PASSWORD" })))
        {
            await AssertProblemAsync(missing, HttpStatusCode.BadRequest, "secrets.DB_PASSWORD", "no secret named 'DB_PASSWORD'");
        }

        using (var badName = await cp.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", user.AccessToken,
            Spec(new Dictionary<string, string> { ["DB_PASSWORD"] = "db-password" })))
        {
            await AssertProblemAsync(badName, HttpStatusCode.BadRequest, "secrets.DB_PASSWORD", "variable name");
        }

        using (var twice = await cp.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", user.AccessToken,
            Spec(new Dictionary<string, string> { ["PORT"] = "PORT" })))
        {
            await AssertProblemAsync(twice, HttpStatusCode.BadRequest, "secrets.PORT", "in env too");
        }

        using (var unknown = await cp.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", user.AccessToken, Spec(registry: "nope")))
        {
            await AssertProblemAsync(unknown, HttpStatusCode.BadRequest, "registry", "no registry credential named 'nope'");
        }

        using (var mismatch = await cp.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", user.AccessToken, Spec(registry: "elsewhere")))
        {
            await AssertProblemAsync(mismatch, HttpStatusCode.BadRequest, "registry", "is for registry.example.com, but the image comes from 127.0.0.1:5000");
        }

        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.releases WHERE app_id = @app", ("app", app)));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.operations WHERE app_id = @app", ("app", app)));

        // With the secret stored, the references hold and the deployment goes on to placement (no nodes here: 422).
        using (var put = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/DB_PASSWORD", user.AccessToken, new { value = "v" }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var placed = await cp.SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", user.AccessToken, Spec(new Dictionary<string, string> { ["DB_PASSWORD"] = "DB_PASSWORD" }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, placed.StatusCode);
    }

    [Fact]
    public async Task Registries_AreValidated_ShowNoCredentials_StoreThemEncrypted_AndAreAudited()
    {
        var user = await cp.SignUpAsync();
        const string password = "registry-token-9d8e7f";

        using (var bad = await cp.SendAsync(HttpMethod.Post, "/api/registries", user.AccessToken, new { name = "-x", server = "https://r.example.com/v2", password = "" }))
        {
            var body = await bad.Content.ReadAsStringAsync(TestEnvironment.TimeCap());
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
            foreach (var field in new[] { "name", "server", "username", "password" })
            {
                Assert.True(errors.TryGetProperty(field, out _), $"no problem named {field}: {body}");
            }
        }

        using var created = await cp.SendAsync(HttpMethod.Post, "/api/registries", user.AccessToken, new { name = "ghcr", server = "GHCR.io", username = "octo", password });
        using var duplicate = await cp.SendAsync(HttpMethod.Post, "/api/registries", user.AccessToken, new { name = "GHCR", server = "ghcr.io", username = "octo", password });
        using var listed = await cp.SendAsync(HttpMethod.Get, "/api/registries", user.AccessToken);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var view = await Json(created);
        Assert.Equal("ghcr.io", view.GetProperty("server").GetString());
        Assert.False(view.TryGetProperty("password", out _));
        Assert.False(view.TryGetProperty("username", out _));
        await AssertProblemAsync(duplicate, HttpStatusCode.Conflict, "name");
        Assert.Single((await Json(listed)).EnumerateArray());
        var id = view.GetProperty("id").GetGuid();
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.secrets WHERE registry_id = @id AND position(convert_to(@password, 'UTF8') in ciphertext) = 0",
            ("id", id), ("password", password)));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'registry.created' AND detail->>'registryId' = @id", ("id", id.ToString())));

        using var deleted = await cp.SendAsync(HttpMethod.Delete, $"/api/registries/{id}", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.secrets WHERE registry_id = @id", ("id", id)));
    }

    [Fact]
    public async Task RotateKey_IsTheAdminsAlone_AndRewrapsEverySecretWhileTheyStayReadable()
    {
        var user = await cp.SignUpAsync();
        var app = await AppAsync(user);
        for (var i = 0; i < 5; i++)
        {
            using var put = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/KEY_{i}", user.AccessToken, new { value = $"v{i}" });
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var refused = await cp.SendAsync(HttpMethod.Post, "/api/secrets/key/rotate", user.AccessToken))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        await using (var promote = cp.Database.DataSource.CreateCommand("UPDATE a67.accounts SET role = 'admin' WHERE id = @id"))
        {
            promote.Parameters.AddWithValue("id", user.AccountId);
            await promote.ExecuteNonQueryAsync(TestEnvironment.TimeCap());
        }

        // The role is in the access token: sign in again as the admin it now is.
        using (var login = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap()))
        {
            user = ControlPlaneFixture.Session.From(user.Email, user.Password, await login.Content.ReadAsStringAsync(TestEnvironment.TimeCap()));
        }

        using var rotated = await cp.SendAsync(HttpMethod.Post, "/api/secrets/key/rotate", user.AccessToken);
        Assert.Equal(HttpStatusCode.Accepted, rotated.StatusCode);
        var rotation = await Json(rotated);
        var to = rotation.GetProperty("to").GetString()!;
        Assert.NotEqual(rotation.GetProperty("from").GetString(), to);

        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(30));
        JsonElement status;
        while (true)
        {
            using var response = await cp.SendAsync(HttpMethod.Get, "/api/secrets/key", user.AccessToken);
            status = await Json(response);
            var byKek = status.GetProperty("secretsByKek").EnumerateObject().ToList();
            if (byKek.Count == 1 && byKek[0].Name == to)
            {
                break;
            }

            await Task.Delay(200, ct);
        }

        Assert.Equal(to, status.GetProperty("activeKek").GetString());
        Assert.Contains("key file", status.GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'secret.key.rotated' AND detail->>'to' = @to", ("to", to)));
        // Still written and listed after the rotation.
        using var after = await cp.SendAsync(HttpMethod.Put, $"/api/apps/{app}/secrets/KEY_0", user.AccessToken, new { value = "again" });
        Assert.Equal(2, (await Json(after)).GetProperty("version").GetInt32());
    }
}
