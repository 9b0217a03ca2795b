using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Tokens;

/// <summary>Personal access tokens against the real control plane: created once, used as bearer tokens, scoped, revoked.</summary>
public sealed class TokenEndpointsTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static readonly string[] ReadOnly = ["read"];
    static readonly string[] AdminOnly = ["admin"];
    static readonly string[] ReadAdmin = ["read", "admin"];
    static readonly string[] DeployReadDeploy = ["deploy", "read", "deploy"];

    static async Task<JsonElement> Json(HttpResponseMessage response, CancellationToken ct) => await response.Content.ReadFromJsonAsync<JsonElement>(ct);

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? bearer, CancellationToken ct, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (body is not null)
        {
            request.Content = body as HttpContent ?? JsonContent.Create(body);
        }

        return await cp.Http.SendAsync(request, ct);
    }

    /// <summary>Creates a token through the API and returns its id and secret.</summary>
    async Task<(Guid Id, string Secret)> NewTokenAsync(string bearer, string[] scopes, CancellationToken ct, string name = "ci")
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/tokens", bearer, ct, new { name, scopes });
        var body = await Json(response, ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return (body.GetProperty("id").GetGuid(), body.GetProperty("token").GetString()!);
    }

    async Task<T> ScalarAsync<T>(string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var command = cp.Database.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    Task<long> TokenCountAsync(CancellationToken ct) => ScalarAsync<long>("SELECT count(*) FROM a67.personal_access_tokens", ct);

    async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var command = cp.Database.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Signs up an account and makes it an admin in the database (the role is read from there on every check).</summary>
    async Task<ControlPlaneFixture.Session> AdminAsync(CancellationToken ct)
    {
        var admin = await cp.SignUpAsync();
        Assert.Equal(1, await ExecuteAsync("UPDATE a67.accounts SET role = 'admin' WHERE id = @id", ct, ("id", admin.AccountId)));
        return admin;
    }

    async Task AssertRefusedAsync(string secret, string why, CancellationToken ct)
    {
        using var me = await SendAsync(HttpMethod.Get, "/api/auth/me", secret, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
        Assert.Contains("invalid_token", me.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains(why, (await Json(me, ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_Returns201_WithTheSecretOnce_AndStoresOnlyItsHash()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();

        using var response = await SendAsync(HttpMethod.Post, "/api/tokens", user.AccessToken, ct, new { name = "ci deploy", scopes = DeployReadDeploy });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore, "the response that carries the secret must not be cached");
        var body = await Json(response, ct);
        var id = body.GetProperty("id").GetGuid();
        var secret = body.GetProperty("token").GetString()!;
        Assert.Equal($"/api/tokens/{id}", response.Headers.Location?.ToString());
        Assert.Matches("^a67_pat_[A-Za-z0-9_-]{43}$", secret);
        Assert.Equal(secret[^4..], body.GetProperty("hint").GetString());
        Assert.Equal(["read", "deploy"], body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(TimeSpan.FromDays(90), body.GetProperty("expiresAt").GetDateTimeOffset() - body.GetProperty("createdAt").GetDateTimeOffset());

        var stored = await ScalarAsync<byte[]>("SELECT token_hash FROM a67.personal_access_tokens WHERE id = @id AND account_id = @account", ct, ("id", id), ("account", user.AccountId));
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(secret)), stored);
        Assert.Equal(1L, await ScalarAsync<long>(
            "SELECT count(*) FROM a67.audit_events WHERE type = 'token.created' AND account_id = @account AND actor_id = @account AND detail->>'tokenId' = @id AND detail->>'name' = 'ci deploy'",
            ct, ("account", user.AccountId), ("id", id.ToString())));
        await AssertSecretStoredNowhereAsync(secret, ct);
        Assert.DoesNotContain(secret, cp.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_WorksAsBearer_IsListedWithoutItsSecret_AndIsRefusedAtOnceWhenRevoked()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var (id, secret) = await NewTokenAsync(user.AccessToken, ["read"], ct, name: "laptop cli");

        using var me = await SendAsync(HttpMethod.Get, "/api/auth/me", secret, ct);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(user.AccountId, (await Json(me, ct)).GetProperty("id").GetGuid());

        using var list = await SendAsync(HttpMethod.Get, "/api/tokens", secret, ct);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var raw = await list.Content.ReadAsStringAsync(ct);
        Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        var listed = Assert.Single(JsonDocument.Parse(raw).RootElement.EnumerateArray());
        Assert.Equal(id, listed.GetProperty("id").GetGuid());
        Assert.Equal("laptop cli", listed.GetProperty("name").GetString());
        Assert.Equal(secret[^4..], listed.GetProperty("hint").GetString());
        Assert.False(listed.TryGetProperty("token", out _));
        Assert.Equal(JsonValueKind.String, listed.GetProperty("lastUsedAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("revokedAt").ValueKind);

        using var revoke = await SendAsync(HttpMethod.Delete, $"/api/tokens/{id}", user.AccessToken, ct);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        // Same instance: the cached grant is forgotten with the revocation, not 5 s later.
        await AssertRefusedAsync(secret, "revoked", ct);
        using var again = await SendAsync(HttpMethod.Delete, $"/api/tokens/{id}", user.AccessToken, ct);
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        using var after = await SendAsync(HttpMethod.Get, $"/api/tokens/{id}", user.AccessToken, ct);
        Assert.Equal(JsonValueKind.String, (await Json(after, ct)).GetProperty("revokedAt").ValueKind);
        Assert.Equal(1L, await ScalarAsync<long>(
            "SELECT count(*) FROM a67.audit_events WHERE type = 'token.revoked' AND account_id = @account AND detail->>'tokenId' = @id AND detail->>'name' = 'laptop cli'",
            ct, ("account", user.AccountId), ("id", id.ToString())));
        await AssertSecretStoredNowhereAsync(secret, ct);
    }

    [Fact]
    public async Task LastUsedAt_IsWrittenOnFirstUse_ThenAtMostOnceAMinute()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var (id, secret) = await NewTokenAsync(user.AccessToken, ["read"], ct);
        const string LastUsed = "SELECT last_used_at FROM a67.personal_access_tokens WHERE id = @id";

        Assert.Equal(DBNull.Value, await ScalarAsync<object>(LastUsed, ct, ("id", id)));
        (await SendAsync(HttpMethod.Get, "/api/auth/me", secret, ct)).Dispose();
        var first = await ScalarAsync<DateTime>(LastUsed, ct, ("id", id));
        await Task.Delay(50, ct);
        (await SendAsync(HttpMethod.Get, "/api/auth/me", secret, ct)).Dispose();
        (await SendAsync(HttpMethod.Get, "/api/tokens", secret, ct)).Dispose();

        Assert.Equal(first, await ScalarAsync<DateTime>(LastUsed, ct, ("id", id)));
    }

    [Fact]
    public async Task ExpiredToken_Returns401_NamingWhy()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var (id, secret) = await NewTokenAsync(user.AccessToken, ["read"], ct);

        Assert.Equal(1, await ExecuteAsync("UPDATE a67.personal_access_tokens SET expires_at = now() - interval '1 minute' WHERE id = @id", ct, ("id", id)));

        await AssertRefusedAsync(secret, "expired", ct);
    }

    [Fact]
    public async Task TokenOfADisabledAccount_Returns401_NamingWhy()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var (_, secret) = await NewTokenAsync(user.AccessToken, ["read"], ct);

        Assert.Equal(1, await ExecuteAsync("UPDATE a67.accounts SET disabled_at = now() WHERE id = @id", ct, ("id", user.AccountId)));

        await AssertRefusedAsync(secret, "disabled", ct);
    }

    [Theory]
    [InlineData("a67_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown")]
    [InlineData("a67_pat_tooShort", "malformed")]
    [InlineData("a67_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "malformed")]
    public async Task UnknownOrMalformedToken_Returns401(string token, string why)
    {
        var ct = TestEnvironment.TimeCap();

        await AssertRefusedAsync(token, why, ct);
    }

    [Fact]
    public async Task ReadOnlyToken_Returns403_OnMutationsAndAdminRoutes_EvenForAnAdminAccount()
    {
        var ct = TestEnvironment.TimeCap();
        var admin = await AdminAsync(ct);
        var (id, secret) = await NewTokenAsync(admin.AccessToken, ["read"], ct);
        var tokensBefore = await TokenCountAsync(ct);

        using var create = await SendAsync(HttpMethod.Post, "/api/tokens", secret, ct, new { name = "more", scopes = ReadOnly });
        using var revoke = await SendAsync(HttpMethod.Delete, $"/api/tokens/{id}", secret, ct);
        using var accounts = await SendAsync(HttpMethod.Get, "/api/accounts", secret, ct);
        using var disable = await SendAsync(HttpMethod.Post, $"/api/accounts/{admin.AccountId}/disable", secret, ct);
        using var dashboard = await SendAsync(HttpMethod.Get, "/hangfire", secret, ct);
        using var audit = await SendAsync(HttpMethod.Get, "/api/audit", secret, ct);
        using var list = await SendAsync(HttpMethod.Get, "/api/tokens", secret, ct);

        foreach (var refused in new[] { create, revoke, accounts, disable })
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("lacks the 'admin' scope", (await Json(refused, ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Forbidden, dashboard.StatusCode);
        Assert.Equal(HttpStatusCode.OK, audit.StatusCode);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(tokensBefore, await TokenCountAsync(ct));
        Assert.Equal(DBNull.Value, await ScalarAsync<object>("SELECT revoked_at FROM a67.personal_access_tokens WHERE id = @id", ct, ("id", id)));
        Assert.Equal(DBNull.Value, await ScalarAsync<object>("SELECT disabled_at FROM a67.accounts WHERE id = @id", ct, ("id", admin.AccountId)));
        Assert.Equal(4L, await ScalarAsync<long>(
            "SELECT count(*) FROM a67.audit_events WHERE type = 'auth.authorization.failed' AND account_id = @account AND detail->>'tokenId' = @id",
            ct, ("account", admin.AccountId), ("id", id.ToString())));
    }

    [Fact]
    public async Task DeployOnlyToken_Returns403_OnReads()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var (_, secret) = await NewTokenAsync(user.AccessToken, ["deploy"], ct);

        using var me = await SendAsync(HttpMethod.Get, "/api/auth/me", secret, ct);
        using var list = await SendAsync(HttpMethod.Get, "/api/tokens", secret, ct);

        Assert.Equal(HttpStatusCode.Forbidden, me.StatusCode);
        Assert.Contains("lacks the 'read' scope", (await Json(me, ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
    }

    [Fact]
    public async Task AdminScope_Returns403AtCreation_ForAnAccountThatIsNotAdmin()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var before = await TokenCountAsync(ct);

        using var response = await SendAsync(HttpMethod.Post, "/api/tokens", user.AccessToken, ct, new { name = "root", scopes = ReadAdmin });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("admin account", (await Json(response, ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await TokenCountAsync(ct));
    }

    [Fact]
    public async Task AdminScopeToken_OpensAdminRoutes_ManagesTokens_AndFollowsTheAccountsCurrentRole()
    {
        var ct = TestEnvironment.TimeCap();
        var admin = await AdminAsync(ct);
        var (id, secret) = await NewTokenAsync(admin.AccessToken, ["admin"], ct);

        using var accounts = await SendAsync(HttpMethod.Get, "/api/accounts", secret, ct);
        using var dashboard = await SendAsync(HttpMethod.Get, "/hangfire", secret, ct);
        var (madeId, madeSecret) = await NewTokenAsync(secret, ["read", "admin"], ct, name: "made by a token");
        using var revokeMade = await SendAsync(HttpMethod.Delete, $"/api/tokens/{madeId}", secret, ct);

        Assert.Equal(HttpStatusCode.OK, accounts.StatusCode);
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, revokeMade.StatusCode);
        await AssertRefusedAsync(madeSecret, "revoked", ct);
        Assert.Equal(1L, await ScalarAsync<long>(
            "SELECT count(*) FROM a67.audit_events WHERE type = 'token.created' AND detail->>'tokenId' = @made AND detail->>'byTokenId' = @by",
            ct, ("made", madeId.ToString()), ("by", id.ToString())));

        // A demoted admin's token keeps its scope but loses the role: within the 5 s the grant is cached.
        Assert.Equal(1, await ExecuteAsync("UPDATE a67.accounts SET role = 'user' WHERE id = @id", ct, ("id", admin.AccountId)));
        while (true)
        {
            using var after = await SendAsync(HttpMethod.Get, "/api/accounts", secret, ct);
            if (after.StatusCode == HttpStatusCode.Forbidden)
            {
                break;
            }

            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            await Task.Delay(250, ct);
        }

        using var adminScope = await SendAsync(HttpMethod.Post, "/api/tokens", secret, ct, new { name = "again", scopes = AdminOnly });
        Assert.Equal(HttpStatusCode.Forbidden, adminScope.StatusCode);
    }

    [Fact]
    public async Task SessionRoutes_Return403_ForAToken_AndChangeNothing()
    {
        var ct = TestEnvironment.TimeCap();
        var admin = await AdminAsync(ct);
        var (_, secret) = await NewTokenAsync(admin.AccessToken, ["read", "deploy", "admin"], ct);

        using var logout = await SendAsync(HttpMethod.Post, "/api/auth/logout", secret, ct);
        using var sessions = await SendAsync(HttpMethod.Get, "/api/auth/sessions", secret, ct);
        using var revoke = await SendAsync(HttpMethod.Delete, $"/api/auth/sessions/{admin.SessionId}", secret, ct);
        using var password = await SendAsync(HttpMethod.Post, "/api/auth/password", secret, ct, new { currentPassword = admin.Password, newPassword = "a brand new passphrase" });

        foreach (var refused in new[] { logout, sessions, revoke, password })
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("signed-in session", (await Json(refused, ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(DBNull.Value, await ScalarAsync<object>("SELECT revoked_at FROM a67.sessions WHERE id = @id", ct, ("id", admin.SessionId)));
        using var login = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = admin.Email, password = admin.Password }, ct);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
    }

    [Fact]
    public async Task AnotherAccountsToken_Returns404_ExactlyLikeAMissingOne()
    {
        var ct = TestEnvironment.TimeCap();
        var owner = await cp.SignUpAsync();
        var intruder = await cp.SignUpAsync();
        var (id, secret) = await NewTokenAsync(owner.AccessToken, ["read"], ct);

        using var foreignGet = await SendAsync(HttpMethod.Get, $"/api/tokens/{id}", intruder.AccessToken, ct);
        using var foreignDelete = await SendAsync(HttpMethod.Delete, $"/api/tokens/{id}", intruder.AccessToken, ct);
        using var missingDelete = await SendAsync(HttpMethod.Delete, $"/api/tokens/{Guid.NewGuid()}", intruder.AccessToken, ct);
        using var intruderList = await SendAsync(HttpMethod.Get, "/api/tokens", intruder.AccessToken, ct);

        Assert.Equal(HttpStatusCode.NotFound, foreignGet.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, foreignDelete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missingDelete.StatusCode);
        Assert.Equal((await Json(missingDelete, ct)).GetProperty("title").GetString(), (await Json(foreignDelete, ct)).GetProperty("title").GetString());
        Assert.Empty((await Json(intruderList, ct)).EnumerateArray());
        Assert.Equal(DBNull.Value, await ScalarAsync<object>("SELECT revoked_at FROM a67.personal_access_tokens WHERE id = @id", ct, ("id", id)));
        using var stillWorks = await SendAsync(HttpMethod.Get, "/api/auth/me", secret, ct);
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
    }

    public static TheoryData<int?, int> Lifetimes => new() { { null, 90 }, { 1, 1 }, { 365, 365 } };

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task Create_SetsExpiry_FromExpiresInDays_WithNullMeaningTheDefault(int? expiresInDays, int days)
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();

        using var response = await SendAsync(HttpMethod.Post, "/api/tokens", user.AccessToken, ct, new { name = "ci", scopes = ReadOnly, expiresInDays });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await Json(response, ct);
        Assert.Equal(TimeSpan.FromDays(days), body.GetProperty("expiresAt").GetDateTimeOffset() - body.GetProperty("createdAt").GetDateTimeOffset());
        var stored = await ScalarAsync<TimeSpan>("SELECT expires_at - created_at FROM a67.personal_access_tokens WHERE id = @id", ct, ("id", body.GetProperty("id").GetGuid()));
        Assert.Equal(TimeSpan.FromDays(days), stored);
    }

    [Theory]
    [InlineData("'; DROP TABLE a67.accounts; --")]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("déploiement 🚀 ci")]
    public async Task Create_StoresSqlAndScriptShapedNames_Verbatim(string name)
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();

        var (id, _) = await NewTokenAsync(user.AccessToken, ["read"], ct, name);

        Assert.Equal(name, await ScalarAsync<string>("SELECT name FROM a67.personal_access_tokens WHERE id = @id", ct, ("id", id)));
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { """{"scopes":["read"]}""", "name" },
        { """{"name":"","scopes":["read"]}""", "name" },
        { """{"name":"   ","scopes":["read"]}""", "name" },
        { $$"""{"name":"{{new string('n', 101)}}","scopes":["read"]}""", "name" },
        { $$"""{"name":"{{new string('é', 101)}}","scopes":["read"]}""", "name" },
        { """{"name":"ci\u0000x","scopes":["read"]}""", "name" },
        { """{"name":"ci\nnext","scopes":["read"]}""", "name" },
        { """{"name":"ci\u007f","scopes":["read"]}""", "name" },
        { """{"name":"ci\ud800","scopes":["read"]}""", "name" },
        { """{"name":42,"scopes":["read"]}""", "name" },
        { """{"name":"ci"}""", "scopes" },
        { """{"name":"ci","scopes":[]}""", "scopes" },
        { """{"name":"ci","scopes":null}""", "scopes" },
        { """{"name":"ci","scopes":["write"]}""", "scopes" },
        { """{"name":"ci","scopes":["READ"]}""", "scopes" },
        { """{"name":"ci","scopes":["read",null]}""", "scopes" },
        { """{"name":"ci","scopes":"read"}""", "scopes" },
        { """{"name":"ci","scopes":["read"],"expiresInDays":0}""", "expiresInDays" },
        { """{"name":"ci","scopes":["read"],"expiresInDays":366}""", "expiresInDays" },
        { """{"name":"ci","scopes":["read"],"expiresInDays":-1}""", "expiresInDays" },
        { """{"name":"ci","scopes":["read"],"expiresInDays":"x"}""", "expiresInDays" },
        { """{"name":"ci","scopes":["read"],"expiresInDays":1.5}""", "expiresInDays" },
        { """{"name":"ci","scopes":["read"],"expiresInDays":99999999999}""", "expiresInDays" },
        { """{"name":"ci","scopes":["read"],"admin":true}""", "admin" },
        { """{"name":"ci","scopes":["read"],""", "body" },
        { "[]", "body" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Create_Returns400_NamingTheField_AndWritesNothing(string json, string field)
    {
        var ct = TestEnvironment.TimeCap();
        var user = await cp.SignUpAsync();
        var before = await TokenCountAsync(ct);

        using var response = await SendAsync(HttpMethod.Post, "/api/tokens", user.AccessToken, ct, new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await Json(response, ct);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name '{field}': {problem}");
        Assert.Equal(before, await TokenCountAsync(ct));
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM a67.audit_events WHERE type = 'token.created' AND account_id = @id", ct, ("id", user.AccountId)));
    }

    [Fact]
    public async Task TokenRoutes_Return401_WithoutABearer()
    {
        var ct = TestEnvironment.TimeCap();

        using var list = await SendAsync(HttpMethod.Get, "/api/tokens", null, ct);
        using var create = await SendAsync(HttpMethod.Post, "/api/tokens", null, ct, new { name = "ci", scopes = ReadOnly });

        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, create.StatusCode);
        Assert.Equal(401, (await Json(create, ct)).GetProperty("status").GetInt32());
    }

    /// <summary>The secret is in no row of any of our tables (hashes are bytea, so they cannot match by accident).</summary>
    async Task AssertSecretStoredNowhereAsync(string secret, CancellationToken ct)
    {
        var tables = new List<string>();
        await using (var list = cp.Database.DataSource.CreateCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'a67' AND table_type = 'BASE TABLE'"))
        await using (var reader = await list.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                tables.Add(reader.GetString(0));
            }
        }

        Assert.Contains("personal_access_tokens", tables);
        Assert.Contains("audit_events", tables);
        foreach (var table in tables)
        {
            Assert.Equal(0L, await ScalarAsync<long>($"SELECT count(*) FROM a67.\"{table}\" row WHERE strpos(row_to_json(row)::text, @secret) > 0", ct, ("secret", secret)));
        }
    }
}
