using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automator67.Functions.Features.Apps;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Apps;

/// <summary>The apps API against the real control plane: CRUD, problem details for each bad input, accounts kept apart, scopes.</summary>
public sealed class AppEndpointsTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static readonly ReleaseSpec Sample = new("127.0.0.1:5000/a67/sample:v1", Env: new Dictionary<string, string> { ["PORT"] = "8080" },
        Ports: [new ReleasePort(8080)], HealthCheck: new ReleaseHealthCheck("http", 8080, "/healthz"));

    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap());

    async Task<HttpResponseMessage> SendJsonAsync(HttpMethod method, string path, string bearer, string json)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", bearer);
        return await cp.Http.SendAsync(request, TestEnvironment.TimeCap());
    }

    async Task<JsonElement> CreatedAsync(ControlPlaneFixture.Session user, string name, Dictionary<string, string>? labels = null)
    {
        using var response = await cp.SendAsync(HttpMethod.Post, "/api/apps", user.AccessToken, new { name, labels });
        var body = await Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return body;
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

    async Task AddReleasesAsync(Guid appId, Guid by, int count)
    {
        var releases = new ReleaseStore(cp.Database.DataSource, TimeProvider.System);
        for (var i = 0; i < count; i++)
        {
            await using var connection = await cp.Database.DataSource.OpenConnectionAsync(TestEnvironment.TimeCap());
            await using var transaction = await connection.BeginTransactionAsync(TestEnvironment.TimeCap());
            await releases.CreateAsync(connection, transaction, appId, Sample with { Replicas = i }, by, TestEnvironment.TimeCap());
            await transaction.CommitAsync(TestEnvironment.TimeCap());
        }
    }

    /// <summary>Asserts a problem-details answer (naming <paramref name="field"/> when given) and returns its body.</summary>
    static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await Json(response);
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.True(body.TryGetProperty("requestId", out _), body.ToString());
        if (field is not null)
        {
            Assert.True(body.GetProperty("errors").TryGetProperty(field, out var problems), body.ToString());
            Assert.NotEmpty(problems.EnumerateArray().Select(p => p.GetString()));
        }

        return body;
    }

    [Fact]
    public async Task Create_Returns201WithLocation_StoresTheApp_AndAudits()
    {
        var user = await cp.SignUpAsync();

        using var response = await cp.SendAsync(HttpMethod.Post, "/api/apps", user.AccessToken, new { name = "web", labels = new Dictionary<string, string> { ["team"] = "blue" } });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await Json(response);
        var id = body.GetProperty("id").GetGuid();
        Assert.Equal($"/api/apps/{id}", response.Headers.Location?.ToString());
        Assert.Equal("web", body.GetProperty("name").GetString());
        Assert.Equal("blue", body.GetProperty("labels").GetProperty("team").GetString());
        using var get = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}", user.AccessToken);
        var read = System.Text.Json.Nodes.JsonNode.Parse((await Json(get)).GetRawText())!.AsObject();
        Assert.NotNull(read["runtime"]); // GET adds what runs; the rest is the app as created
        read.Remove("runtime");
        var created = System.Text.Json.Nodes.JsonNode.Parse(body.GetRawText())!.AsObject();
        created.Remove("runtime");
        Assert.Equal(created.ToJsonString(), read.ToJsonString());
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.apps WHERE id = @id AND account_id = @account AND name = 'web'", ("id", id), ("account", user.AccountId)));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'app.created' AND account_id = @account AND detail->>'appId' = @id",
            ("account", user.AccountId), ("id", id.ToString())));
    }

    public static TheoryData<string, string> BadCreates => new()
    {
        { """{"name":"-web"}""", "name" },
        { """{"name":"web-"}""", "name" },
        { """{"name":"Web"}""", "name" },
        { """{"name":"my_web"}""", "name" },
        { """{"name":"my.web"}""", "name" },
        { """{"name":""}""", "name" },
        { """{"labels":{}}""", "name" },
        { $$"""{"name":"{{new string('a', 64)}}"}""", "name" },
        { """{"name":"web","labels":{"Team":"blue"}}""", "labels" },
        { """{"name":"web","labels":{"team":"a\u0000b"}}""", "labels" },
        { """{"name":"web","labels":{""" + string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"k{i}\":\"v\"")) + "}}", "labels" },
        { """{"name":"web","labels":{"team":""" + $"\"{new string('v', 129)}\"" + "}}", "labels" },
        { """{"name":5}""", "name" },
        { """{"name":"web","colour":"red"}""", "colour" },
        { """{"name":"web",""", "body" },
        { "not json", "body" },
    };

    [Theory]
    [MemberData(nameof(BadCreates))]
    public async Task Create_Returns400_NamingTheField_AndStoresNothing(string json, string field)
    {
        var user = await cp.SignUpAsync();

        using var response = await SendJsonAsync(HttpMethod.Post, "/api/apps", user.AccessToken, json);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.apps WHERE account_id = @account", ("account", user.AccountId)));
    }

    [Fact]
    public async Task Create_Returns409NamingName_WhenTheAccountHasThatName_ButAnotherAccountMayUseIt()
    {
        var user = await cp.SignUpAsync();
        var other = await cp.SignUpAsync();
        await CreatedAsync(user, "api");

        using var again = await cp.SendAsync(HttpMethod.Post, "/api/apps", user.AccessToken, new { name = "api" });
        await CreatedAsync(other, "api");

        var problem = await AssertProblemAsync(again, HttpStatusCode.Conflict, "name");
        Assert.Contains("'api'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.apps WHERE account_id = @account", ("account", user.AccountId)));
    }

    [Fact]
    public async Task List_ShowsTheCallersAppsByName_FilteredByLabel()
    {
        var user = await cp.SignUpAsync();
        var other = await cp.SignUpAsync();
        await CreatedAsync(user, "worker", new() { ["tier"] = "batch" });
        await CreatedAsync(user, "api", new() { ["tier"] = "web", ["team"] = "blue" });
        await CreatedAsync(user, "site", new() { ["tier"] = "web" });
        await CreatedAsync(other, "theirs", new() { ["tier"] = "web" });

        async Task<string[]> NamesAsync(string query)
        {
            using var response = await cp.SendAsync(HttpMethod.Get, "/api/apps" + query, user.AccessToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return [.. (await Json(response)).EnumerateArray().Select(a => a.GetProperty("name").GetString()!)];
        }

        Assert.Equal(["api", "site", "worker"], await NamesAsync(""));
        Assert.Equal(["api", "site"], await NamesAsync("?label=tier=web"));
        Assert.Equal(["api"], await NamesAsync("?label=team"));
        Assert.Empty(await NamesAsync("?label=tier=none"));
    }

    [Fact]
    public async Task Patch_RenamesAndRelabels_Refuses409OnATakenName_AndAudits()
    {
        var user = await cp.SignUpAsync();
        var id = (await CreatedAsync(user, "web", new() { ["team"] = "blue" })).GetProperty("id").GetGuid();
        await CreatedAsync(user, "taken");

        using var rename = await cp.SendAsync(HttpMethod.Patch, $"/api/apps/{id}", user.AccessToken, new { name = "site" });
        using var relabel = await cp.SendAsync(HttpMethod.Patch, $"/api/apps/{id}", user.AccessToken, new { labels = new Dictionary<string, string> { ["team"] = "red" } });
        using var clash = await cp.SendAsync(HttpMethod.Patch, $"/api/apps/{id}", user.AccessToken, new { name = "taken" });
        using var empty = await SendJsonAsync(HttpMethod.Patch, $"/api/apps/{id}", user.AccessToken, "{}");
        using var badName = await SendJsonAsync(HttpMethod.Patch, $"/api/apps/{id}", user.AccessToken, """{"name":"Site"}""");
        using var badLabels = await SendJsonAsync(HttpMethod.Patch, $"/api/apps/{id}", user.AccessToken, """{"labels":{"a b":"c"}}""");

        Assert.Equal(HttpStatusCode.OK, rename.StatusCode);
        Assert.Equal("site", (await Json(rename)).GetProperty("name").GetString());
        var relabelled = await Json(relabel);
        Assert.Equal("site", relabelled.GetProperty("name").GetString());
        Assert.Equal("red", relabelled.GetProperty("labels").GetProperty("team").GetString());
        await AssertProblemAsync(clash, HttpStatusCode.Conflict, "name");
        await AssertProblemAsync(empty, HttpStatusCode.BadRequest, "body");
        await AssertProblemAsync(badName, HttpStatusCode.BadRequest, "name");
        await AssertProblemAsync(badLabels, HttpStatusCode.BadRequest, "labels");
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.apps WHERE id = @id AND name = 'site' AND labels = '{\"team\":\"red\"}'", ("id", id)));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'app.updated' AND detail->>'appId' = @id", ("id", id.ToString())));
    }

    [Fact]
    public async Task Delete_Returns204_ForAnAppNeverDeployed_AndStartsARemoveOperation_ForOneWithReleases()
    {
        var user = await cp.SignUpAsync();
        var fresh = (await CreatedAsync(user, "fresh")).GetProperty("id").GetGuid();
        var deployed = (await CreatedAsync(user, "deployed")).GetProperty("id").GetGuid();
        await AddReleasesAsync(deployed, user.AccountId, 1);

        using var deleteFresh = await cp.SendAsync(HttpMethod.Delete, $"/api/apps/{fresh}", user.AccessToken);
        using var gone = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{fresh}", user.AccessToken);
        using var deleteDeployed = await cp.SendAsync(HttpMethod.Delete, $"/api/apps/{deployed}", user.AccessToken);

        Assert.Equal(HttpStatusCode.NoContent, deleteFresh.StatusCode);
        await AssertProblemAsync(gone, HttpStatusCode.NotFound);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'app.deleted' AND detail->>'appId' = @id AND detail->>'name' = 'fresh'",
            ("id", fresh.ToString())));
        // Deployed once: a remove operation takes its replicas (here none) away, then the app and its releases.
        Assert.Equal(HttpStatusCode.Accepted, deleteDeployed.StatusCode);
        var operation = (await deleteDeployed.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("id").GetGuid();
        while (true)
        {
            using var view = await cp.SendAsync(HttpMethod.Get, $"/api/operations/{operation}", user.AccessToken);
            var status = (await view.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("status").GetString();
            if (status is not ("Pending" or "Running"))
            {
                Assert.Equal("Succeeded", status);
                break;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        using var removed = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{deployed}", user.AccessToken);
        await AssertProblemAsync(removed, HttpStatusCode.NotFound);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.releases WHERE app_id = @id", ("id", deployed)));
    }

    [Fact]
    public async Task Releases_AreListedNewestFirst_InPages_AndReadOneByOne()
    {
        var user = await cp.SignUpAsync();
        var id = (await CreatedAsync(user, "web")).GetProperty("id").GetGuid();
        await AddReleasesAsync(id, user.AccountId, 3);

        using var all = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases", user.AccessToken);
        using var page = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases?limit=1&before=3", user.AccessToken);
        using var one = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases/2", user.AccessToken);
        using var missing = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases/4", user.AccessToken);
        using var badLimit = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases?limit=0", user.AccessToken);
        using var badBefore = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases?before=0", user.AccessToken);

        var listed = await Json(all);
        Assert.Equal([3, 2, 1], listed.EnumerateArray().Select(r => r.GetProperty("number").GetInt32()));
        Assert.Equal(user.AccountId, listed[0].GetProperty("createdBy").GetGuid());
        Assert.True(listed[0].TryGetProperty("createdAt", out _));
        Assert.Equal([2], (await Json(page)).EnumerateArray().Select(r => r.GetProperty("number").GetInt32()));
        var spec = (await Json(one)).GetProperty("spec");
        Assert.Equal(1, spec.GetProperty("replicas").GetInt32());
        Assert.Equal("/healthz", spec.GetProperty("healthCheck").GetProperty("path").GetString());
        Assert.Equal(5, spec.GetProperty("healthCheck").GetProperty("intervalSeconds").GetInt32());
        Assert.Equal("unless-stopped", spec.GetProperty("restartPolicy").GetProperty("name").GetString());
        Assert.Equal("tcp", spec.GetProperty("ports")[0].GetProperty("protocol").GetString());
        await AssertProblemAsync(missing, HttpStatusCode.NotFound);
        await AssertProblemAsync(badLimit, HttpStatusCode.BadRequest, "limit");
        await AssertProblemAsync(badBefore, HttpStatusCode.BadRequest, "before");
    }

    [Fact]
    public async Task AnotherAccountsApp_Returns404_ExactlyLikeAnUnknownOne()
    {
        var owner = await cp.SignUpAsync();
        var stranger = await cp.SignUpAsync();
        var id = (await CreatedAsync(owner, "private")).GetProperty("id").GetGuid();
        await AddReleasesAsync(id, owner.AccountId, 1);

        foreach (var target in new[] { id, Guid.CreateVersion7() })
        {
            foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
            {
                (HttpMethod.Get, "", null), (HttpMethod.Patch, "", new { name = "mine" }), (HttpMethod.Delete, "", null),
                (HttpMethod.Get, "/releases", null), (HttpMethod.Get, "/releases/1", null),
            })
            {
                using var response = await cp.SendAsync(method, $"/api/apps/{target}{path}", stranger.AccessToken, body);
                await AssertProblemAsync(response, HttpStatusCode.NotFound);
            }
        }

        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.apps WHERE id = @id AND name = 'private'", ("id", id)));
    }

    [Fact]
    public async Task Scopes_ReadTokenOnlyReads_DeployTokenOnlyChanges_AndNoTokenIs401()
    {
        var user = await cp.SignUpAsync();
        var id = (await CreatedAsync(user, "web")).GetProperty("id").GetGuid();
        async Task<string> TokenAsync(string scope)
        {
            using var response = await cp.SendAsync(HttpMethod.Post, "/api/tokens", user.AccessToken, new { name = scope, scopes = new[] { scope } });
            return (await Json(response)).GetProperty("token").GetString()!;
        }

        var read = await TokenAsync("read");
        var deploy = await TokenAsync("deploy");

        using var readList = await cp.SendAsync(HttpMethod.Get, "/api/apps", read);
        using var readReleases = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}/releases", read);
        using var readCreate = await cp.SendAsync(HttpMethod.Post, "/api/apps", read, new { name = "nope" });
        using var readPatch = await cp.SendAsync(HttpMethod.Patch, $"/api/apps/{id}", read, new { name = "nope" });
        using var readDelete = await cp.SendAsync(HttpMethod.Delete, $"/api/apps/{id}", read);
        using var deployGet = await cp.SendAsync(HttpMethod.Get, $"/api/apps/{id}", deploy);
        using var deployCreate = await cp.SendAsync(HttpMethod.Post, "/api/apps", deploy, new { name = "by-token" });
        using var anonymous = await cp.SendAsync(HttpMethod.Get, "/api/apps", null);

        Assert.Equal(HttpStatusCode.OK, readList.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readReleases.StatusCode);
        foreach (var refused in new[] { readCreate, readPatch, readDelete })
        {
            var problem = await AssertProblemAsync(refused, HttpStatusCode.Forbidden);
            Assert.Contains("lacks the 'deploy' scope", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var readRefused = await AssertProblemAsync(deployGet, HttpStatusCode.Forbidden);
        Assert.Contains("lacks the 'read' scope", readRefused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, deployCreate.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.apps WHERE id = @id AND name = 'web'", ("id", id)));
    }
}
