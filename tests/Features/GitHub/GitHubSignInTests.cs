using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automator67.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace Automator67.Tests.Features.GitHub;

/// <summary>The whole GitHub flow, with the control plane's real HTTP client code, against the stand-in GitHub.</summary>
public sealed class GitHubSignInTests(GitHubFixture fixture) : IClassFixture<GitHubFixture>
{
    readonly ControlPlaneFixture _cp = fixture.ControlPlane;
    readonly FakeGitHub _github = fixture.GitHub;

    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap());

    static string Query(Uri url, string name) => QueryHelpers.ParseQuery(url.Query)[name].ToString();

    static Uri WithoutQuery(Uri url, string name)
    {
        var query = QueryHelpers.ParseQuery(url.Query).Where(p => p.Key != name).ToDictionary(p => p.Key, p => (string?)p.Value.ToString());
        return new Uri(QueryHelpers.AddQueryString(url.GetLeftPart(UriPartial.Path), query));
    }

    async Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = _cp.Database.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (long)(await command.ExecuteScalarAsync(TestEnvironment.TimeCap()))!;
    }

    Task<long> FailuresAsync(string reason) =>
        CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.failed' AND detail->>'reason' = @r", ("r", reason));

    Task<long> LinksAsync(FakeGitHubUser user) =>
        CountAsync("SELECT count(*) FROM a67.external_logins WHERE provider = 'github' AND subject = @s", ("s", user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string field, string detailPart)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await Json(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), $"errors should name '{field}': {problem}");
        Assert.Contains(detailPart, messages[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RedirectsToGitHub_WithStatePkceAndAnHttpOnlyLaxCookie()
    {
        using var browser = fixture.NewBrowser();

        using var start = await browser.Http.GetAsync("/api/auth/github/start", TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var authorize = start.Headers.Location!;
        Assert.StartsWith($"{_github.BaseUrl}/login/oauth/authorize?", authorize.ToString(), StringComparison.Ordinal);
        Assert.Equal(FakeGitHub.ClientId, Query(authorize, "client_id"));
        Assert.Equal($"{_cp.Http.BaseAddress!.ToString().TrimEnd('/')}/api/auth/github/callback", Query(authorize, "redirect_uri"));
        Assert.Equal("read:user user:email", Query(authorize, "scope"));
        Assert.Equal("S256", Query(authorize, "code_challenge_method"));
        Assert.Equal(43, Query(authorize, "code_challenge").Length);
        var state = Query(authorize, "state");
        Assert.Equal(22, state.Length); // 128 random bits, base64url
        var cookie = Assert.Single(start.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"a67_github_flow={browser.FlowCookie}; ", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/api/auth/github", cookie, StringComparison.OrdinalIgnoreCase);
        // Stored: the state's hash with a verifier whose S256 is the challenge; neither the state nor the cookie in clear.
        await using var read = _cp.Database.DataSource.CreateCommand(
            "SELECT code_verifier, account_id IS NULL, expires_at - created_at FROM a67.external_login_flows WHERE state_hash = sha256(convert_to(@s, 'UTF8'))");
        read.Parameters.AddWithValue("s", state);
        await using var row = await read.ExecuteReaderAsync(TestEnvironment.TimeCap());
        Assert.True(await row.ReadAsync(TestEnvironment.TimeCap()));
        Assert.Equal(Query(authorize, "code_challenge"), Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(row.GetString(0)))));
        Assert.True(row.GetBoolean(1));
        Assert.Equal(TimeSpan.FromMinutes(10), row.GetFieldValue<TimeSpan>(2));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.external_login_flows f WHERE f::text LIKE '%' || @v || '%'", ("v", browser.FlowCookie!)));
    }

    [Fact]
    public async Task SignIn_CreatesAPasswordlessAccount_AndSignsInTheSameAccountNextTime()
    {
        var user = FakeGitHubUser.With($"New.User-{Guid.NewGuid():N}@Users.A67.test");
        _github.NextUser = user;
        var email = user.Emails[0].Email.ToLowerInvariant();
        using var first = fixture.NewBrowser();
        using var second = fixture.NewBrowser();
        var exchanges = _github.Exchanges;

        using var signIn = await first.SignInAsync();
        using var again = await second.SignInAsync();

        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var tokens = await Json(signIn);
        Assert.Equal("Bearer", tokens.GetProperty("tokenType").GetString());
        Assert.StartsWith("a67_rt_", tokens.GetProperty("refreshToken").GetString(), StringComparison.Ordinal);
        var account = tokens.GetProperty("account");
        Assert.Equal(email, account.GetProperty("email").GetString());
        Assert.Equal("user", account.GetProperty("role").GetString());
        var accountId = account.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(accountId, (await Json(again)).GetProperty("account").GetProperty("id").GetGuid());
        Assert.Null(first.FlowCookie); // the callback removes the cookie it no longer needs

        using var me = await _cp.SendAsync(HttpMethod.Get, "/api/auth/me", tokens.GetProperty("accessToken").GetString());
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.accounts WHERE email = @e AND password_hash IS NULL", ("e", email)));
        Assert.Equal(1, await CountAsync(
            "SELECT count(*) FROM a67.external_logins WHERE provider = 'github' AND subject = @s AND account_id = @a AND login = @l",
            ("s", user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("a", accountId), ("l", user.Login)));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.signup' AND account_id = @a AND detail->>'via' = 'github'", ("a", accountId)));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.linked' AND account_id = @a", ("a", accountId)));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.login' AND account_id = @a AND detail ? 'sessionId'", ("a", accountId)));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.external_login_flows WHERE used_at IS NOT NULL AND code_verifier <> ''"));
        Assert.Equal(exchanges + 2, _github.Exchanges);
        await AssertNoSecretStoredOrLoggedAsync();
    }

    [Fact]
    public async Task Callback_Returns400_WhenStateBelongsToAnotherBrowsersFlow()
    {
        // Login CSRF: the attacker's own code and state, planted in the victim's browser, which holds its own flow cookie.
        _github.NextUser = FakeGitHubUser.With($"attacker-{Guid.NewGuid():N}@users.a67.test");
        using var victim = fixture.NewBrowser();
        using var attacker = fixture.NewBrowser();
        await victim.StartAsync();
        var attackersCallback = await attacker.AuthorizeAsync(await attacker.StartAsync());
        var exchanges = _github.Exchanges;

        using var response = await victim.Http.GetAsync(attackersCallback, TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "state", "another browser");
        Assert.Equal(exchanges, _github.Exchanges);
        Assert.Equal(0, await LinksAsync(_github.NextUser));
        Assert.Equal(1, await FailuresAsync("flow cookie mismatch"));
    }

    [Fact]
    public async Task Callback_Returns400_WhenStateIsUnknown()
    {
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        var forged = new Uri(QueryHelpers.AddQueryString(WithoutQuery(callback, "state").ToString(), "state", Base64Url(RandomNumberGenerator.GetBytes(16))));

        using var response = await browser.Http.GetAsync(forged, TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "state", "not one this instance issued");
    }

    [Fact]
    public async Task Callback_Returns400_WhenCodeIsMissing()
    {
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());

        using var response = await browser.Http.GetAsync(WithoutQuery(callback, "code"), TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "code", "code is required");
        Assert.Equal(1, await FailuresAsync("code missing or malformed"));
    }

    [Fact]
    public async Task Callback_Returns400_WhenStateIsReused()
    {
        _github.NextUser = FakeGitHubUser.With($"replayed-{Guid.NewGuid():N}@users.a67.test");
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        var cookie = browser.FlowCookie!;
        using var first = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var exchanges = _github.Exchanges;

        // A replay with everything the first request had: the same URL and the same cookie.
        using var replay = new HttpRequestMessage(HttpMethod.Get, callback);
        replay.Headers.Add("Cookie", $"a67_github_flow={cookie}");
        using var stranger = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        using var response = await stranger.SendAsync(replay, TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "state", "used once");
        Assert.Equal(exchanges, _github.Exchanges);
        Assert.Equal(1, await FailuresAsync("state reused"));
    }

    [Fact]
    public async Task Callback_Returns400_WhenFlowCookieIsMissing()
    {
        _github.NextUser = FakeGitHubUser.With($"cookieless-{Guid.NewGuid():N}@users.a67.test");
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        using var otherBrowser = fixture.NewBrowser();

        using var response = await otherBrowser.Http.GetAsync(callback, TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "cookie", "a67_github_flow cookie is missing");
        // The flow was not spent: its own browser can still finish.
        using var finish = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, finish.StatusCode);
    }

    [Fact]
    public async Task Callback_Returns400_WhenFlowHasExpired()
    {
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        await using (var age = _cp.Database.DataSource.CreateCommand(
            "UPDATE a67.external_login_flows SET expires_at = now() - interval '1 second' WHERE state_hash = sha256(convert_to(@s, 'UTF8'))"))
        {
            age.Parameters.AddWithValue("s", Query(callback, "state"));
            Assert.Equal(1, await age.ExecuteNonQueryAsync(TestEnvironment.TimeCap()));
        }

        using var response = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "state", "longer than 10 minutes");
        Assert.Equal(1, await FailuresAsync("state expired"));
    }

    [Fact]
    public async Task Callback_Returns401_WhenUserCancelsAtGitHub()
    {
        _github.DenyNext = true;
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        Assert.Equal("access_denied", Query(callback, "error"));

        using var response = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("GitHub sign-in was cancelled", (await Json(response)).GetProperty("title").GetString());
        Assert.Equal(1, await CountAsync(
            "SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.failed' AND detail->>'reason' = 'cancelled' AND detail->>'githubError' = 'access_denied'"));
    }

    [Fact]
    public async Task Callback_Returns403_WhenGitHubHasNoVerifiedPrimaryEmail()
    {
        var unverified = $"unverified-{Guid.NewGuid():N}@users.a67.test";
        var secondary = $"secondary-{Guid.NewGuid():N}@users.a67.test";
        var user = FakeGitHubUser.With(unverified, verified: false);
        user = user with { Emails = [.. user.Emails, new FakeGitHubEmail(secondary, Primary: false, Verified: true)] };
        _github.NextUser = user;
        using var browser = fixture.NewBrowser();

        using var response = await browser.SignInAsync();

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("no verified primary email", (await Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.accounts WHERE email IN (@a, @b)", ("a", unverified), ("b", secondary)));
        Assert.Equal(0, await LinksAsync(user));
        Assert.Equal(1, await FailuresAsync("no verified primary email"));
    }

    [Fact]
    public async Task Callback_Returns409_AndLinksNothing_WhenAPasswordAccountHasTheEmail()
    {
        var owner = await _cp.SignUpAsync();
        var user = FakeGitHubUser.With(owner.Email.ToUpperInvariant());
        _github.NextUser = user;
        using var browser = fixture.NewBrowser();

        using var response = await browser.SignInAsync();

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var problem = await Json(response);
        Assert.Contains("Sign in with its password, then link GitHub", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await LinksAsync(user));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.sessions WHERE account_id = @a AND id <> @s", ("a", owner.AccountId), ("s", owner.SessionId)));
        Assert.Equal(1, await CountAsync(
            "SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.failed' AND account_id = @a AND detail->>'reason' = 'email belongs to an existing account'",
            ("a", owner.AccountId)));
    }

    [Fact]
    public async Task Link_LinksGitHubToTheSignedInAccount_ThenGitHubSignsIntoIt()
    {
        var owner = await _cp.SignUpAsync();
        // Another email at GitHub: linking rests on the signed-in session, never on matching addresses.
        var user = FakeGitHubUser.With($"elsewhere-{Guid.NewGuid():N}@users.a67.test");
        _github.NextUser = user;
        using var browser = fixture.NewBrowser();

        var callback = await LinkThroughGitHubAsync(browser, owner.AccessToken);
        using var linked = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.OK, linked.StatusCode);
        var account = await Json(linked);
        Assert.Equal(owner.AccountId, account.GetProperty("id").GetGuid());
        Assert.Equal(owner.Email, account.GetProperty("email").GetString());
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.linked' AND account_id = @a AND detail->>'githubLogin' = @l",
            ("a", owner.AccountId), ("l", user.Login)));
        using var later = fixture.NewBrowser();
        using var signIn = await later.SignInAsync();
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.Equal(owner.AccountId, (await Json(signIn)).GetProperty("account").GetProperty("id").GetGuid());
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.accounts WHERE email = @e", ("e", user.Emails[0].Email)));
        using var again = await _cp.SendAsync(HttpMethod.Post, "/api/auth/github/link", owner.AccessToken);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task SignIn_AsksForTheSecondFactor_WhenTheLinkedAccountHasTwoFactorOn()
    {
        var owner = await _cp.SignUpAsync();
        _github.NextUser = FakeGitHubUser.With($"twofactor-{Guid.NewGuid():N}@users.a67.test");
        using (var browser = fixture.NewBrowser())
        {
            using var linked = await browser.Http.GetAsync(await LinkThroughGitHubAsync(browser, owner.AccessToken), TestEnvironment.TimeCap());
            Assert.Equal(HttpStatusCode.OK, linked.StatusCode);
        }

        using var enroll = await _cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/enroll", owner.AccessToken, new { password = owner.Password });
        var authenticator = new Automator67.Tests.Features.Auth.Authenticator((await Json(enroll)).GetProperty("secret").GetString()!);
        using var confirm = await _cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", owner.AccessToken, new { code = await authenticator.NextCodeAsync(TestEnvironment.TimeCap()) });
        Assert.Equal(HttpStatusCode.OK, confirm.StatusCode);
        using var later = fixture.NewBrowser();

        using var signIn = await later.SignInAsync();

        // GitHub vouches for who you are at GitHub; it does not stand in for this account's second factor.
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var body = await Json(signIn);
        Assert.True(body.GetProperty("twoFactorRequired").GetBoolean());
        Assert.False(body.TryGetProperty("accessToken", out _));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.login' AND account_id = @a", ("a", owner.AccountId)));
    }

    [Fact]
    public async Task Link_Returns409_WhenGitHubAccountIsLinkedToAnotherAccount()
    {
        var first = await _cp.SignUpAsync();
        var second = await _cp.SignUpAsync();
        var user = FakeGitHubUser.With($"shared-{Guid.NewGuid():N}@users.a67.test");
        _github.NextUser = user;
        using var firstBrowser = fixture.NewBrowser();
        using var linked = await firstBrowser.Http.GetAsync(await LinkThroughGitHubAsync(firstBrowser, first.AccessToken), TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, linked.StatusCode);
        using var secondBrowser = fixture.NewBrowser();

        using var response = await secondBrowser.Http.GetAsync(await LinkThroughGitHubAsync(secondBrowser, second.AccessToken), TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("GitHub account linked elsewhere", (await Json(response)).GetProperty("title").GetString());
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.external_logins WHERE subject = @s AND account_id = @a",
            ("s", user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("a", first.AccountId)));
    }

    [Fact]
    public async Task Link_Returns401_WithoutASignedInSession_AndLinksNothing_AfterLogout()
    {
        using var anonymous = await _cp.Http.PostAsync("/api/auth/github/link", null, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        // The flow belongs to the session that started it: once that session ends, its callback links nothing.
        var owner = await _cp.SignUpAsync();
        var user = FakeGitHubUser.With($"late-{Guid.NewGuid():N}@users.a67.test");
        _github.NextUser = user;
        using var browser = fixture.NewBrowser();
        var callback = await LinkThroughGitHubAsync(browser, owner.AccessToken);
        using var logout = await _cp.SendAsync(HttpMethod.Post, "/api/auth/logout", owner.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        using var response = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, await LinksAsync(user));
    }

    [Fact]
    public async Task Unlink_Returns409_WhenGitHubIsTheAccountsOnlySignIn()
    {
        _github.NextUser = FakeGitHubUser.With($"only-{Guid.NewGuid():N}@users.a67.test");
        using var browser = fixture.NewBrowser();
        using var signIn = await browser.SignInAsync();
        var accessToken = (await Json(signIn)).GetProperty("accessToken").GetString();

        using var response = await _cp.SendAsync(HttpMethod.Delete, "/api/auth/github/link", accessToken);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("lock you out", (await Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await LinksAsync(_github.NextUser));
    }

    [Fact]
    public async Task Unlink_RemovesTheLink_WhenTheAccountHasAPassword()
    {
        var owner = await _cp.SignUpAsync();
        var user = FakeGitHubUser.With($"unlink-{Guid.NewGuid():N}@users.a67.test");
        _github.NextUser = user;
        using var browser = fixture.NewBrowser();
        using var linked = await browser.Http.GetAsync(await LinkThroughGitHubAsync(browser, owner.AccessToken), TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, linked.StatusCode);

        using var response = await _cp.SendAsync(HttpMethod.Delete, "/api/auth/github/link", owner.AccessToken);
        using var twice = await _cp.SendAsync(HttpMethod.Delete, "/api/auth/github/link", owner.AccessToken);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, twice.StatusCode);
        Assert.Equal(0, await LinksAsync(user));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.github.unlinked' AND account_id = @a AND detail->>'githubLogin' = @l",
            ("a", owner.AccountId), ("l", user.Login)));
    }

    [Fact]
    public async Task Callback_Returns403_WhenTheLinkedAccountIsDisabled()
    {
        var user = FakeGitHubUser.With($"disabled-{Guid.NewGuid():N}@users.a67.test");
        _github.NextUser = user;
        using var first = fixture.NewBrowser();
        using var created = await first.SignInAsync();
        var accountId = (await Json(created)).GetProperty("account").GetProperty("id").GetGuid();
        await using (var disable = _cp.Database.DataSource.CreateCommand("UPDATE a67.accounts SET disabled_at = now() WHERE id = @a"))
        {
            disable.Parameters.AddWithValue("a", accountId);
            await disable.ExecuteNonQueryAsync(TestEnvironment.TimeCap());
        }

        using var browser = fixture.NewBrowser();
        using var response = await browser.SignInAsync();

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Account disabled", (await Json(response)).GetProperty("title").GetString());
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM a67.sessions WHERE account_id = @a", ("a", accountId)));
    }

    [Fact]
    public async Task Callback_Returns400_NamingCode_WhenGitHubRefusesTheCodeVerifier()
    {
        // The stand-in checks PKCE: with another verifier than the challenge's, the code is refused.
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        await using (var tamper = _cp.Database.DataSource.CreateCommand(
            "UPDATE a67.external_login_flows SET code_verifier = @v WHERE state_hash = sha256(convert_to(@s, 'UTF8'))"))
        {
            tamper.Parameters.AddWithValue("v", Base64Url(RandomNumberGenerator.GetBytes(32)));
            tamper.Parameters.AddWithValue("s", Query(callback, "state"));
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync(TestEnvironment.TimeCap()));
        }

        using var response = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "code", "bad_verification_code");
    }

    [Fact]
    public async Task Callback_Returns502Problem_WhenGitHubsApiFails()
    {
        using var browser = fixture.NewBrowser();
        var callback = await browser.AuthorizeAsync(await browser.StartAsync());
        _github.FailUserApi = true;
        try
        {
            using var response = await browser.Http.GetAsync(callback, TestEnvironment.TimeCap());

            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("GitHub could not be reached", (await Json(response)).GetProperty("title").GetString());
        }
        finally
        {
            _github.FailUserApi = false;
        }
    }

    /// <summary>POST /link as the signed-in user, in this browser, and approve at GitHub; returns the callback URL.</summary>
    static async Task<Uri> LinkThroughGitHubAsync(Browser browser, string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/github/link");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var link = await browser.Http.SendAsync(request, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, link.StatusCode);
        Assert.NotNull(browser.FlowCookie);
        return await browser.AuthorizeAsync(new Uri((await Json(link)).GetProperty("authorizeUrl").GetString()!));
    }

    async Task AssertNoSecretStoredOrLoggedAsync()
    {
        foreach (var secret in _github.IssuedSecrets.Append(FakeGitHub.ClientSecret))
        {
            Assert.Equal(0, await CountAsync("""
                SELECT (SELECT count(*) FROM a67.audit_events e WHERE e::text LIKE '%' || @s || '%')
                     + (SELECT count(*) FROM a67.external_logins l WHERE l::text LIKE '%' || @s || '%')
                     + (SELECT count(*) FROM a67.external_login_flows f WHERE f::text LIKE '%' || @s || '%')
                """, ("s", secret)));
        }

        // Codes are single use and PKCE-bound; GitHub's access tokens and our client secret must never reach the log.
        foreach (var secret in _github.IssuedSecrets.Where(s => s.StartsWith("gho_", StringComparison.Ordinal)).Append(FakeGitHub.ClientSecret))
        {
            Assert.DoesNotContain(secret, _cp.Output, StringComparison.Ordinal);
        }
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
