using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Auth;

public sealed class AuthEndpointsTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    async Task<long> CountAsync(string sql)
    {
        await using var command = cp.Database.DataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Signup_Returns201_WithTokens_AndStoresNormalizedEmailAndArgon2idHash()
    {
        var email = $"  Mixed.Case-{Guid.NewGuid():N}@Example.COM ";

        using var response = await cp.Http.PostAsJsonAsync("/api/auth/signup", new { email, password = "a quite long passphrase" }, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await Json(response);
        Assert.Equal("Bearer", body.GetProperty("tokenType").GetString());
        Assert.Equal(900, body.GetProperty("expiresIn").GetInt32());
        Assert.StartsWith("a67_rt_", body.GetProperty("refreshToken").GetString(), StringComparison.Ordinal);
        Assert.Equal(email.Trim().ToLowerInvariant(), body.GetProperty("account").GetProperty("email").GetString());
        await using var command = cp.Database.DataSource.CreateCommand("SELECT password_hash FROM a67.accounts WHERE email = @e");
        command.Parameters.AddWithValue("e", email.Trim().ToLowerInvariant());
        var hash = (string)(await command.ExecuteScalarAsync(TestEnvironment.TimeCap()))!;
        Assert.StartsWith("$argon2id$v=19$m=19456,t=3,p=1$", hash, StringComparison.Ordinal);
        Assert.DoesNotContain("a quite long passphrase", hash, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signup_Returns409_WhenEmailTakenInAnyCase()
    {
        var user = await cp.SignUpAsync();

        using var response = await cp.Http.PostAsJsonAsync("/api/auth/signup", new { email = user.Email.ToUpperInvariant(), password = "another long passphrase" }, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    public static TheoryData<string, string> BadSignups => new()
    {
        { """{"email":"a@b.io","password":"password1"}""", "password" },                    // among the most common
        { """{"email":"a@b.io","password":"short"}""", "password" },
        { """{"email":"a@b.io"}""", "password" },
        { """{"password":"a long enough passphrase"}""", "email" },
        { """{"email":"not-an-email","password":"a long enough passphrase"}""", "email" },
        { """{"email":"a\u0000b@c.io","password":"a long enough passphrase"}""", "email" },
        { """{"email":"' OR 1=1;--@x.io","password":"a long enough passphrase"}""", "email" },
        { """{"email":"<script>@x.io","password":"a long enough passphrase","admin":true}""", "admin" },
        { """{"email":42,"password":"a long enough passphrase"}""", "email" },
        { """{"email":"a@b.io","password":"a long enough passphrase",}""", "body" },
        { """{"email":"a@b.io","password":""", "password" },
        { "[]", "body" },
    };

    [Theory]
    [MemberData(nameof(BadSignups))]
    public async Task Signup_Returns400_NamingTheField_AndWritesNothing(string json, string field)
    {
        var before = await CountAsync("SELECT count(*) FROM a67.accounts");

        using var response = await cp.Http.PostAsync("/api/auth/signup", new StringContent(json, Encoding.UTF8, "application/json"), TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await Json(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name '{field}': {problem}");
        Assert.Equal(before, await CountAsync("SELECT count(*) FROM a67.accounts"));
    }

    [Fact]
    public async Task Signup_Returns400_ForLongUnicodeEmail_And413_ForOversizedBody()
    {
        var longEmail = new string('é', 300) + "@x.io";
        using var tooLong = await cp.Http.PostAsJsonAsync("/api/auth/signup", new { email = longEmail, password = "a long enough passphrase" }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);

        var huge = new string('x', 2 * 1024 * 1024);
        using var oversized = await cp.Http.PostAsJsonAsync("/api/auth/signup", new { email = "a@b.io", password = huge }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversized.StatusCode);
    }

    [Fact]
    public async Task Login_AcceptsLongPasswords_AndNeverTruncates()
    {
        var password = string.Concat(Enumerable.Repeat("Ωmega-passphrase ", 8)); // 136 characters, non-ASCII
        var user = await cp.SignUpAsync(password: password);

        using var exact = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password }, TestEnvironment.TimeCap());
        using var truncated = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = password[..72] }, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.OK, exact.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, truncated.StatusCode);
    }

    [Fact]
    public async Task Login_GivesOneAnswer_ForUnknownEmailAndWrongPassword_AndAuditsBoth()
    {
        var user = await cp.SignUpAsync();

        using var wrong = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = "not the password" }, TestEnvironment.TimeCap());
        using var unknown = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = $"nobody-{Guid.NewGuid():N}@a67.test", password = "not the password" }, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        var wrongBody = await Json(wrong);
        var unknownBody = await Json(unknown);
        Assert.Equal(wrongBody.GetProperty("detail").GetString(), unknownBody.GetProperty("detail").GetString());
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM a67.audit_events WHERE type = 'auth.login.failed' AND account_id = '{user.AccountId}' AND detail->>'reason' = 'wrong password'"));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE detail::text LIKE '%not the password%'"));
    }

    [Fact]
    public async Task Login_RehashesPassword_WhenStoredParametersAreWeakerThanSettings()
    {
        var user = await cp.SignUpAsync();
        var weak = new char[Geralt.Argon2id.HashSize];
        Geralt.Argon2id.ComputeHash(weak, Encoding.UTF8.GetBytes(user.Password), 2, 19 * 1024 * 1024);
        await using (var plant = cp.Database.DataSource.CreateCommand("UPDATE a67.accounts SET password_hash = @h WHERE id = @id"))
        {
            plant.Parameters.AddWithValue("h", new string(weak).TrimEnd('\0'));
            plant.Parameters.AddWithValue("id", user.AccountId);
            await plant.ExecuteNonQueryAsync(TestEnvironment.TimeCap());
        }

        using var login = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        await using var read = cp.Database.DataSource.CreateCommand($"SELECT password_hash FROM a67.accounts WHERE id = '{user.AccountId}'");
        Assert.StartsWith("$argon2id$v=19$m=19456,t=3,p=1$", (string)(await read.ExecuteScalarAsync(TestEnvironment.TimeCap()))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refresh_Rotates_AndReuseRevokesTheWholeFamily()
    {
        var user = await cp.SignUpAsync();

        using var first = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = user.RefreshToken }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var rotated = (await Json(first)).GetProperty("refreshToken").GetString();
        Assert.NotEqual(user.RefreshToken, rotated);

        using var reuse = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = user.RefreshToken }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        Assert.Contains("already used", (await Json(reuse)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The thief's copy and the rightful holder's newer token are both dead: the family is revoked.
        using var newer = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = rotated }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, newer.StatusCode);
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM a67.audit_events WHERE type = 'auth.refresh.reused' AND account_id = '{user.AccountId}'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM a67.sessions WHERE id = '{user.SessionId}' AND revoked_reason = 'refresh token reused'"));
    }

    [Theory]
    [InlineData("a67_rt_notarealtoken")]
    [InlineData("eyJhbGciOiJub25lIn0.e30.")]
    [InlineData("")]
    public async Task Refresh_RefusesUnknownTokens(string token)
    {
        using var response = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = token }, TestEnvironment.TimeCap());

        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest, response.StatusCode.ToString());
    }

    [Fact]
    public async Task Logout_EndsTheSession_ForRefreshAndAccessTokens()
    {
        var user = await cp.SignUpAsync();

        using var logout = await cp.SendAsync(HttpMethod.Post, "/api/auth/logout", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using var refresh = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = user.RefreshToken }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        await AssertEventuallyUnauthorizedAsync(user.AccessToken);
    }

    [Fact]
    public async Task Sessions_ListsOwnSessions_AndRevokesOne_ButAnotherAccountsIsNotFound()
    {
        var user = await cp.SignUpAsync();
        using var second = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        var secondSession = (await Json(second)).GetProperty("sessionId").GetGuid();
        var other = await cp.SignUpAsync();

        using var list = await cp.SendAsync(HttpMethod.Get, "/api/auth/sessions", user.AccessToken);
        var sessions = (await Json(list)).EnumerateArray().ToList();
        Assert.Equal(2, sessions.Count);
        Assert.Single(sessions, s => s.GetProperty("current").GetBoolean() && s.GetProperty("id").GetGuid() == user.SessionId);

        using var foreign = await cp.SendAsync(HttpMethod.Delete, $"/api/auth/sessions/{other.SessionId}", user.AccessToken);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        using var missing = await cp.SendAsync(HttpMethod.Delete, $"/api/auth/sessions/{Guid.NewGuid()}", user.AccessToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var revoke = await cp.SendAsync(HttpMethod.Delete, $"/api/auth/sessions/{secondSession}", user.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        using var after = await cp.SendAsync(HttpMethod.Get, "/api/auth/sessions", user.AccessToken);
        Assert.Single((await Json(after)).EnumerateArray());
        using var otherStillWorks = await cp.SendAsync(HttpMethod.Get, "/api/auth/me", other.AccessToken);
        Assert.Equal(HttpStatusCode.OK, otherStillWorks.StatusCode);
    }

    [Fact]
    public async Task Me_Returns401_WithProblem_WithoutToken()
    {
        using var response = await cp.Http.GetAsync("/api/auth/me", TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(401, (await Json(response)).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ChangePassword_NeedsTheCurrentOne_AndEndsOtherSessions()
    {
        var user = await cp.SignUpAsync();
        using var other = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        var otherSession = ControlPlaneFixture.Session.From(user.Email, user.Password, await other.Content.ReadAsStringAsync(TestEnvironment.TimeCap()));

        using var wrong = await cp.SendAsync(HttpMethod.Post, "/api/auth/password", user.AccessToken, new { currentPassword = "not it at all", newPassword = "a brand new passphrase" });
        using var weak = await cp.SendAsync(HttpMethod.Post, "/api/auth/password", user.AccessToken, new { currentPassword = user.Password, newPassword = "qwerty123" });
        using var changed = await cp.SendAsync(HttpMethod.Post, "/api/auth/password", user.AccessToken, new { currentPassword = user.Password, newPassword = "a brand new passphrase" });

        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode);
        Assert.True((await Json(weak)).GetProperty("errors").TryGetProperty("newPassword", out _));
        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        using var oldLogin = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        using var newLogin = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = "a brand new passphrase" }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, oldLogin.StatusCode);
        Assert.Equal(HttpStatusCode.OK, newLogin.StatusCode);
        using var otherRefresh = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = otherSession.RefreshToken }, TestEnvironment.TimeCap());
        using var ownRefresh = await cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = user.RefreshToken }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, otherRefresh.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ownRefresh.StatusCode);
    }

    async Task AssertEventuallyUnauthorizedAsync(string accessToken)
    {
        var ct = TestEnvironment.TimeCap();
        while (true)
        {
            using var me = await cp.SendAsync(HttpMethod.Get, "/api/auth/me", accessToken);
            if (me.StatusCode == HttpStatusCode.Unauthorized)
            {
                return;
            }

            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            await Task.Delay(250, ct);
        }
    }
}
