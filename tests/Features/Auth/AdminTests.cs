using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Auth;

/// <summary>The instance admin: created by bootstrap-admin, manages accounts, owns /hangfire, reads every audit event.</summary>
public sealed partial class AdminTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    async Task<(int ExitCode, string Stdout)> BootstrapAsync()
    {
        await using var process = ProductProcess.StartControlPlane(cp.Environment(ProductProcess.FreePort()), "bootstrap-admin");
        var exit = await process.WaitForExitAsync(TestEnvironment.TimeCap());
        return (exit, process.Stdout + process.Stderr);
    }

    async Task<ControlPlaneFixture.Session> AdminAsync()
    {
        var (exit, output) = await BootstrapAsync();
        Assert.Equal(0, exit);
        var created = CreatedLine().Match(output);
        if (created.Success)
        {
            s_adminPassword = created.Groups["password"].Value;
        }

        Assert.NotNull(s_adminPassword);
        using var login = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = ControlPlaneFixture.AdminEmail, password = s_adminPassword }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        return ControlPlaneFixture.Session.From(ControlPlaneFixture.AdminEmail, s_adminPassword!, await login.Content.ReadAsStringAsync());
    }

    static string? s_adminPassword;

    [GeneratedRegex(@"created (?<email>\S+) with password (?<password>\S+)")]
    private static partial Regex CreatedLine();

    [Fact]
    public async Task BootstrapAdmin_CreatesTheAdminOnce_AndThePasswordIsNeitherLoggedNorAudited()
    {
        var admin = await AdminAsync();

        var (exit, second) = await BootstrapAsync();

        Assert.Equal(0, exit);
        Assert.Contains($"{ControlPlaneFixture.AdminEmail} (exists)", second, StringComparison.Ordinal);
        Assert.DoesNotContain(admin.Password, cp.Output, StringComparison.Ordinal);
        await using var audit = cp.Database.DataSource.CreateCommand("SELECT count(*) FROM a67.audit_events WHERE detail::text LIKE '%' || @p || '%'");
        audit.Parameters.AddWithValue("p", admin.Password);
        Assert.Equal(0L, (long)(await audit.ExecuteScalarAsync(TestEnvironment.TimeCap()))!);
        using var me = await cp.SendAsync(HttpMethod.Get, "/api/auth/me", admin.AccessToken);
        Assert.Equal("admin", (await Json(me)).GetProperty("role").GetString());
    }

    [Fact]
    public async Task JoinTokenCommand_PrintsATokenForTheAdminsAccount_ThatEnrolsOneNode()
    {
        var admin = await AdminAsync();
        await using var process = ProductProcess.StartControlPlane(cp.Environment(ProductProcess.FreePort()), "join-token", "local-docker");
        Assert.Equal(0, await process.WaitForExitAsync(TestEnvironment.TimeCap()));
        var token = process.Stdout.Trim();
        Assert.Matches("^a67_join_[A-Za-z0-9_-]{43}$", token);

        var key = Convert.ToBase64String(System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256).ExportSubjectPublicKeyInfo());
        var facts = new { hostname = "h", operatingSystem = "o", architecture = "x86_64", cpus = 1, memoryBytes = 1024, dockerVersion = "20.10", dockerApiVersion = "1.41" };
        using var enrolled = await cp.Http.PostAsJsonAsync("/api/relay/enroll", new { token, publicKey = key, facts }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
        using var nodes = await cp.SendAsync(HttpMethod.Get, "/api/nodes", admin.AccessToken);
        Assert.Contains((await Json(nodes)).EnumerateArray(), n => n.GetProperty("name").GetString() == "local-docker");
    }

    [Fact]
    public async Task HangfireDashboard_IsTheAdminsAlone()
    {
        var admin = await AdminAsync();
        var user = await cp.SignUpAsync();

        using var anonymous = await cp.Http.GetAsync("/hangfire", TestEnvironment.TimeCap());
        using var asUser = await cp.SendAsync(HttpMethod.Get, "/hangfire", user.AccessToken);
        using var asAdmin = await cp.SendAsync(HttpMethod.Get, "/hangfire", admin.AccessToken);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, asUser.StatusCode);
        Assert.Equal(HttpStatusCode.OK, asAdmin.StatusCode);
    }

    [Fact]
    public async Task Accounts_AreAdminOnly()
    {
        var admin = await AdminAsync();
        var user = await cp.SignUpAsync();

        using var asUser = await cp.SendAsync(HttpMethod.Get, "/api/accounts", user.AccessToken);
        using var asAdmin = await cp.SendAsync(HttpMethod.Get, "/api/accounts?limit=200", admin.AccessToken);

        Assert.Equal(HttpStatusCode.Forbidden, asUser.StatusCode);
        Assert.Equal("application/problem+json", asUser.Content.Headers.ContentType?.MediaType);
        Assert.Contains((await Json(asAdmin)).EnumerateArray(), a => a.GetProperty("id").GetGuid() == user.AccountId);
        await using var audited = cp.Database.DataSource.CreateCommand(
            $"SELECT count(*) FROM a67.audit_events WHERE type = 'auth.authorization.failed' AND account_id = '{user.AccountId}' AND detail->>'path' = '/api/accounts'");
        Assert.Equal(1L, (long)(await audited.ExecuteScalarAsync(TestEnvironment.TimeCap()))!);
    }

    [Fact]
    public async Task DisablingAnAccount_EndsItsSessions_AndRefusesItsTokensAndLogins()
    {
        var admin = await AdminAsync();
        var user = await cp.SignUpAsync();

        using var disable = await cp.SendAsync(HttpMethod.Post, $"/api/accounts/{user.AccountId}/disable", admin.AccessToken);
        Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        Assert.True((await Json(disable)).GetProperty("disabled").GetBoolean());

        using var refresh = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = user.RefreshToken }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        using var login = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
        var ct = TestEnvironment.TimeCap();
        while ((await cp.SendAsync(HttpMethod.Get, "/api/auth/me", user.AccessToken)).StatusCode != HttpStatusCode.Unauthorized)
        {
            await Task.Delay(250, ct); // within the 5 s the session check is cached
        }

        using var enable = await cp.SendAsync(HttpMethod.Post, $"/api/accounts/{user.AccountId}/enable", admin.AccessToken);
        using var again = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        await using var audit = cp.Database.DataSource.CreateCommand(
            $"SELECT string_agg(type, ',' ORDER BY id) FROM a67.audit_events WHERE account_id = '{user.AccountId}' AND actor_id <> account_id");
        Assert.Equal("account.disabled,account.enabled", (string?)await audit.ExecuteScalarAsync(TestEnvironment.TimeCap()));
    }

    [Fact]
    public async Task RoleChange_AppliesToLiveTokens_AndIsAudited_AndAdminsCannotLockThemselvesOut()
    {
        var admin = await AdminAsync();
        var user = await cp.SignUpAsync();

        using var bad = await cp.SendAsync(HttpMethod.Put, $"/api/accounts/{user.AccountId}/role", admin.AccessToken, new { role = "root" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await Json(bad)).GetProperty("errors").TryGetProperty("role", out _));
        using var promote = await cp.SendAsync(HttpMethod.Put, $"/api/accounts/{user.AccountId}/role", admin.AccessToken, new { role = "admin" });
        Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
        var ct = TestEnvironment.TimeCap();
        while ((await cp.SendAsync(HttpMethod.Get, "/api/accounts", user.AccessToken)).StatusCode != HttpStatusCode.OK)
        {
            await Task.Delay(250, ct);
        }

        using var demoteSelf = await cp.SendAsync(HttpMethod.Put, $"/api/accounts/{admin.AccountId}/role", admin.AccessToken, new { role = "user" });
        using var disableSelf = await cp.SendAsync(HttpMethod.Post, $"/api/accounts/{admin.AccountId}/disable", admin.AccessToken);
        using var missing = await cp.SendAsync(HttpMethod.Post, $"/api/accounts/{Guid.NewGuid()}/disable", admin.AccessToken);
        Assert.Equal(HttpStatusCode.Conflict, demoteSelf.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, disableSelf.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        await using var audit = cp.Database.DataSource.CreateCommand(
            $"SELECT detail->>'role' FROM a67.audit_events WHERE type = 'account.role.changed' AND account_id = '{user.AccountId}' AND actor_id = '{admin.AccountId}'");
        Assert.Equal("admin", (string?)await audit.ExecuteScalarAsync(TestEnvironment.TimeCap()));
    }

    [Fact]
    public async Task Audit_ShowsOwnEventsToUsers_AndEveryonesToTheAdmin()
    {
        var admin = await AdminAsync();
        var user = await cp.SignUpAsync();
        var other = await cp.SignUpAsync();

        using var mine = await cp.SendAsync(HttpMethod.Get, $"/api/audit?accountId={other.AccountId}", user.AccessToken);
        var events = (await Json(mine)).GetProperty("events").EnumerateArray().ToList();
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal(user.AccountId, e.GetProperty("accountId").GetGuid()));

        using var theirs = await cp.SendAsync(HttpMethod.Get, $"/api/audit?accountId={other.AccountId}&type=auth.login.succeeded", admin.AccessToken);
        var adminView = (await Json(theirs)).GetProperty("events").EnumerateArray().ToList();
        Assert.Single(adminView);
        Assert.Equal(other.AccountId, adminView[0].GetProperty("accountId").GetGuid());

        using var page = await cp.SendAsync(HttpMethod.Get, "/api/audit?limit=1", admin.AccessToken);
        var first = await Json(page);
        Assert.Single(first.GetProperty("events").EnumerateArray());
        var next = first.GetProperty("nextBefore").GetInt64();
        using var page2 = await cp.SendAsync(HttpMethod.Get, $"/api/audit?limit=1&before={next}", admin.AccessToken);
        Assert.True((await Json(page2)).GetProperty("events")[0].GetProperty("id").GetInt64() < next);

        using var badLimit = await cp.SendAsync(HttpMethod.Get, "/api/audit?limit=0", user.AccessToken);
        using var badRange = await cp.SendAsync(HttpMethod.Get, "/api/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", user.AccessToken);
        using var badType = await cp.SendAsync(HttpMethod.Get, "/api/audit?from=yesterday", user.AccessToken);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badRange.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badType.StatusCode);
    }
}
