using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Features.Auth;

/// <summary>Two-factor through the real control plane: enrolment, confirmation, login's second step, backup codes, disabling.</summary>
public sealed class TwoFactorEndpointsTests(TwoFactorFixture fixture) : IClassFixture<TwoFactorFixture>
{
    ControlPlaneFixture Cp => fixture.ControlPlane;

    sealed record Enabled(ControlPlaneFixture.Session User, Authenticator App, string[] BackupCodes);

    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    async Task<object?> ScalarAsync(string sql)
    {
        await using var command = Cp.Database.DataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync(TestEnvironment.TimeCap());
    }

    async Task<(ControlPlaneFixture.Session User, Authenticator App, JsonElement Enrollment)> EnrollAsync()
    {
        var user = await Cp.SignUpAsync();
        using var enroll = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/enroll", user.AccessToken, new { password = user.Password });
        Assert.Equal(HttpStatusCode.OK, enroll.StatusCode);
        var body = await Json(enroll);
        return (user, new Authenticator(body.GetProperty("secret").GetString()!), body);
    }

    async Task<Enabled> EnableAsync(CancellationToken ct)
    {
        var (user, app, _) = await EnrollAsync();
        using var confirm = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", user.AccessToken, new { code = await app.NextCodeAsync(ct) });
        Assert.Equal(HttpStatusCode.OK, confirm.StatusCode);
        var codes = (await Json(confirm)).GetProperty("backupCodes").EnumerateArray().Select(c => c.GetString()!).ToArray();
        return new Enabled(user, app, codes);
    }

    /// <summary>Login's first step for an account with two-factor on: a challenge, and no tokens.</summary>
    async Task<string> ChallengeAsync(ControlPlaneFixture.Session user)
    {
        using var login = await Cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var body = await Json(login);
        Assert.True(body.GetProperty("twoFactorRequired").GetBoolean());
        Assert.False(body.TryGetProperty("accessToken", out _));
        Assert.False(body.TryGetProperty("refreshToken", out _));
        return body.GetProperty("challengeToken").GetString()!;
    }

    Task<HttpResponseMessage> SecondStepAsync(string challenge, string? code = null, string? backupCode = null) =>
        Cp.Http.PostAsJsonAsync("/api/auth/2fa/login", new { challengeToken = challenge, code, backupCode }, TestEnvironment.TimeCap());

    async Task<JsonElement> StatusAsync(ControlPlaneFixture.Session user)
    {
        using var status = await Cp.SendAsync(HttpMethod.Get, "/api/auth/2fa", user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        return await Json(status);
    }

    [Fact]
    public async Task Enroll_ReturnsSecretUriAndQrCode_AndStoresTheSecretEncrypted_UntilConfirmed()
    {
        var (user, app, body) = await EnrollAsync();

        var secret = body.GetProperty("secret").GetString()!;
        Assert.Matches("^[A-Z2-7]{32}$", secret);
        Assert.Equal($"otpauth://totp/Automator67:{Uri.EscapeDataString(user.Email)}?secret={secret}&issuer=Automator67&algorithm=SHA1&digits=6&period=30",
            body.GetProperty("otpauthUri").GetString());
        var qr = body.GetProperty("qrCode").GetString()!;
        Assert.StartsWith("data:image/png;base64,", qr, StringComparison.Ordinal);
        var png = Convert.FromBase64String(qr["data:image/png;base64,".Length..]);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a], png[..8]);
        // A URI this long needs at least a version-5 symbol: 37 modules plus the quiet zone, 6 px each.
        Assert.InRange(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)), (37 + 8) * 6, 1000);

        await using var read = Cp.Database.DataSource.CreateCommand($"SELECT secret, enabled_at IS NULL FROM a67.two_factor WHERE account_id = '{user.AccountId}'");
        await using var reader = await read.ExecuteReaderAsync(TestEnvironment.TimeCap());
        Assert.True(await reader.ReadAsync(TestEnvironment.TimeCap()));
        var stored = reader.GetFieldValue<byte[]>(0);
        Assert.True(reader.GetBoolean(1));
        Assert.DoesNotContain(Convert.ToHexString(app.Secret), Convert.ToHexString(stored), StringComparison.Ordinal);
        var secrets = new TwoFactorSecrets(Options.Create(new TwoFactorOptions { SecretKeyFile = fixture.SecretKeyFile }), new HostingEnvironment { ContentRootPath = "/" });
        Assert.Equal(app.Secret, secrets.Open(user.AccountId, stored));

        var status = await StatusAsync(user);
        Assert.False(status.GetProperty("enabled").GetBoolean());
        Assert.True(status.GetProperty("enrollmentPending").GetBoolean());
        using var login = await Cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestEnvironment.TimeCap());
        Assert.True((await Json(login)).TryGetProperty("accessToken", out _), "an unconfirmed enrolment must not change sign-in");
    }

    [Fact]
    public async Task Enroll_Returns403_ForAWrongPassword_And401_WithoutAToken()
    {
        var user = await Cp.SignUpAsync();

        using var wrong = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/enroll", user.AccessToken, new { password = "not the password" });
        using var anonymous = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/enroll", null, new { password = user.Password });

        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal("The password is wrong.", (await Json(wrong)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM a67.two_factor WHERE account_id = '{user.AccountId}'"));
        Assert.Equal(1L, await ScalarAsync(
            $"SELECT count(*) FROM a67.audit_events WHERE type = 'auth.2fa.failed' AND account_id = '{user.AccountId}' AND detail->>'purpose' = 'enroll' AND detail->>'reason' = 'wrong password'"));
    }

    [Fact]
    public async Task Confirm_TurnsTwoFactorOn_WithTenBackupCodesStoredHashed_AndEndsOtherSessions()
    {
        var ct = TestEnvironment.TimeCap();
        var (user, app, _) = await EnrollAsync();
        using var otherLogin = await Cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, ct);
        var other = ControlPlaneFixture.Session.From(user.Email, user.Password, await otherLogin.Content.ReadAsStringAsync(ct));

        using var confirm = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", user.AccessToken, new { code = await app.NextCodeAsync(ct) });

        Assert.Equal(HttpStatusCode.OK, confirm.StatusCode);
        Assert.Equal("no-store", confirm.Headers.CacheControl?.ToString());
        var codes = (await Json(confirm)).GetProperty("backupCodes").EnumerateArray().Select(c => c.GetString()!).ToArray();
        Assert.Equal(10, codes.Distinct().Count());
        var expected = codes.Select(c => Convert.ToHexString(BackupCodes.Hash(c.Replace("-", "", StringComparison.Ordinal)))).Order();
        Assert.Equal(string.Join(',', expected), (string?)await ScalarAsync(
            $"SELECT string_agg(upper(encode(code_hash, 'hex')), ',' ORDER BY upper(encode(code_hash, 'hex'))) FROM a67.two_factor_backup_codes WHERE account_id = '{user.AccountId}'"));
        var status = await StatusAsync(user);
        Assert.True(status.GetProperty("enabled").GetBoolean());
        Assert.Equal(10, status.GetProperty("backupCodesRemaining").GetInt32());

        using var otherRefresh = await Cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = other.RefreshToken }, ct);
        using var ownRefresh = await Cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = user.RefreshToken }, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, otherRefresh.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ownRefresh.StatusCode);
        using var again = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", user.AccessToken, new { code = await app.NextCodeAsync(ct) });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        using var reEnroll = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/enroll", user.AccessToken, new { password = user.Password });
        Assert.Equal(HttpStatusCode.Conflict, reEnroll.StatusCode);
    }

    [Fact]
    public async Task Confirm_Returns403_ForAWrongCode_And409_BeforeEnrolling()
    {
        var stranger = await Cp.SignUpAsync();
        var (user, app, _) = await EnrollAsync();

        using var notEnrolled = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", stranger.AccessToken, new { code = "123456" });
        using var wrong = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", user.AccessToken, new { code = app.WrongCode() });

        Assert.Equal(HttpStatusCode.Conflict, notEnrolled.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal("The code is wrong.", (await Json(wrong)).GetProperty("detail").GetString());
        Assert.True((await StatusAsync(user)).GetProperty("enrollmentPending").GetBoolean());
        Assert.Equal(1, await ScalarAsync($"SELECT failures FROM a67.two_factor WHERE account_id = '{user.AccountId}'"));
    }

    public static TheoryData<string, string, string> BadRequests => new()
    {
        { "/api/auth/2fa/enroll", "{}", "password" },
        { "/api/auth/2fa/enroll", """{"password":42}""", "password" },
        { "/api/auth/2fa/enroll", """{"password":"a long enough passphrase","admin":true}""", "admin" },
        { "/api/auth/2fa/confirm", "{}", "code" },
        { "/api/auth/2fa/confirm", """{"code":"12345"}""", "code" },
        { "/api/auth/2fa/confirm", """{"code":"12345\u0000"}""", "code" },
        { "/api/auth/2fa/confirm", """{"code":"' OR 1=1;--"}""", "code" },
        { "/api/auth/2fa/confirm", """{"code":"<script>alert(1)</script>"}""", "code" },
        { "/api/auth/2fa/confirm", $$"""{"code":"{{new string('é', 5000)}}"}""", "code" },
        { "/api/auth/2fa/confirm", """{"code":123456}""", "code" },
        { "/api/auth/2fa/confirm", """{"code":"123456",}""", "body" },
        { "/api/auth/2fa/confirm", "[]", "body" },
        { "/api/auth/2fa/disable", """{"code":"123456"}""", "password" },
        { "/api/auth/2fa/disable", """{"password":"a long enough passphrase"}""", "code" },
        { "/api/auth/2fa/disable", """{"password":"p","code":"123456","backupCode":"abcd-efgh-jkmn-pqrs-tvwx-yz01"}""", "backupCode" },
        { "/api/auth/2fa/disable", """{"password":"p","backupCode":"abcd-efgh"}""", "backupCode" },
        { "/api/auth/2fa/backup-codes", """{"password":"p"}""", "code" },
        { "/api/auth/2fa/backup-codes", """{"password":"p","backupCode":"abcd-efgh-jkmn-pqrs-tvwx-yz01"}""", "backupCode" },
        { "/api/auth/2fa/login", """{"code":"123456"}""", "challengeToken" },
        { "/api/auth/2fa/login", """{"challengeToken":"a67_2fa_x"}""", "code" },
        { "/api/auth/2fa/login", """{"challengeToken":"a67_2fa_x","code":"1234567"}""", "code" },
        { "/api/auth/2fa/login", """{"challengeToken":["a67_2fa_x"],"code":"123456"}""", "challengeToken" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task TwoFactorRoutes_Return400_NamingTheField_AndWriteNothing(string path, string json, string field)
    {
        var user = await Cp.SignUpAsync();
        var events = await ScalarAsync($"SELECT count(*) FROM a67.audit_events WHERE account_id = '{user.AccountId}'");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", user.AccessToken);

        using var response = await Cp.Http.SendAsync(request, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await Json(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name '{field}': {problem}");
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM a67.two_factor WHERE account_id = '{user.AccountId}'"));
        Assert.Equal(events, await ScalarAsync($"SELECT count(*) FROM a67.audit_events WHERE account_id = '{user.AccountId}'"));
    }

    [Fact]
    public async Task Login_AnswersWithAChallenge_OnceTwoFactorIsOn_AndOnlyTheSecondFactorStartsASession()
    {
        var ct = TestEnvironment.TimeCap();
        var enabled = await EnableAsync(ct);
        var mark = await ScalarAsync("SELECT coalesce(max(id), 0) FROM a67.audit_events");

        var challenge = await ChallengeAsync(enabled.User);
        Assert.StartsWith("a67_2fa_", challenge, StringComparison.Ordinal);
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM a67.sessions WHERE account_id = '{enabled.User.AccountId}' AND revoked_at IS NULL"));
        using var done = await SecondStepAsync(challenge, code: await enabled.App.NextCodeAsync(ct));

        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        var session = ControlPlaneFixture.Session.From(enabled.User.Email, enabled.User.Password, await done.Content.ReadAsStringAsync(ct));
        Assert.NotEqual(enabled.User.SessionId, session.SessionId);
        using var me = await Cp.SendAsync(HttpMethod.Get, "/api/auth/me", session.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("auth.2fa.challenged,auth.2fa.verified,auth.login.succeeded", await ScalarAsync(
            $"SELECT string_agg(type, ',' ORDER BY id) FROM a67.audit_events WHERE account_id = '{enabled.User.AccountId}' AND id > {mark}"));
    }

    [Fact]
    public async Task SecondStep_RefusesTheCodeThatConfirmedEnrollment_AsAlreadyUsed_ButTheChallengeSurvives()
    {
        var ct = TestEnvironment.TimeCap();
        var enabled = await EnableAsync(ct);
        var challenge = await ChallengeAsync(enabled.User);

        using var replay = await SecondStepAsync(challenge, code: enabled.App.LastCode);
        using var next = await SecondStepAsync(challenge, code: await enabled.App.NextCodeAsync(ct));

        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        Assert.Equal("This code was already used; wait for the next one.", (await Json(replay)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(1L, await ScalarAsync(
            $"SELECT count(*) FROM a67.audit_events WHERE type = 'auth.2fa.failed' AND account_id = '{enabled.User.AccountId}' AND detail->>'reason' = 'code already used'"));
    }

    [Fact]
    public async Task SecondStep_TakesEachBackupCodeOnce_HoweverItIsTyped()
    {
        var enabled = await EnableAsync(TestEnvironment.TimeCap());
        var code = enabled.BackupCodes[0];

        using var first = await SecondStepAsync(await ChallengeAsync(enabled.User), backupCode: code.ToUpperInvariant().Replace('-', ' '));
        using var reuse = await SecondStepAsync(await ChallengeAsync(enabled.User), backupCode: code);
        using var another = await SecondStepAsync(await ChallengeAsync(enabled.User), backupCode: enabled.BackupCodes[1]);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        Assert.Equal("The code is wrong.", (await Json(reuse)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, another.StatusCode);
        Assert.Equal(8, (await StatusAsync(enabled.User)).GetProperty("backupCodesRemaining").GetInt32());
        Assert.Equal(2L, await ScalarAsync(
            $"SELECT count(*) FROM a67.audit_events WHERE type = 'auth.2fa.verified' AND account_id = '{enabled.User.AccountId}' AND detail->>'method' = 'backupCode'"));
    }

    [Fact]
    public async Task SecondStep_Returns401_ForUnknownExpiredAndSpentChallenges_AndCountsNothingAgainstTheAccount()
    {
        var enabled = await EnableAsync(TestEnvironment.TimeCap());
        const string UnknownDetail = "The sign-in challenge is unknown, expired or already used; sign in with your password again.";

        // Without the password nobody has a challenge, so guesses reach no account: an anonymous attacker cannot lock anyone out.
        for (var i = 0; i < 6; i++)
        {
            using var unknown = await SecondStepAsync("a67_2fa_" + Guid.NewGuid().ToString("N"), code: enabled.App.WrongCode());
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
            Assert.Equal(UnknownDetail, (await Json(unknown)).GetProperty("detail").GetString());
        }

        var expired = await ChallengeAsync(enabled.User);
        await using (var age = Cp.Database.DataSource.CreateCommand(
            "UPDATE a67.two_factor_challenges SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to(@t, 'UTF8'))"))
        {
            age.Parameters.AddWithValue("t", expired);
            Assert.Equal(1, await age.ExecuteNonQueryAsync(TestEnvironment.TimeCap()));
        }

        using var late = await SecondStepAsync(expired, backupCode: enabled.BackupCodes[0]);
        var spent = await ChallengeAsync(enabled.User);
        using var once = await SecondStepAsync(spent, backupCode: enabled.BackupCodes[0]);
        using var twice = await SecondStepAsync(spent, backupCode: enabled.BackupCodes[1]);

        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
        Assert.Equal(UnknownDetail, (await Json(late)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, once.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, twice.StatusCode);
        Assert.Equal(UnknownDetail, (await Json(twice)).GetProperty("detail").GetString());
        Assert.Equal(0, await ScalarAsync($"SELECT failures FROM a67.two_factor WHERE account_id = '{enabled.User.AccountId}'"));
    }

    [Fact]
    public async Task SecondStep_Returns429WithRetryAfter_AfterFiveWrongCodes_EvenForTheRightOne_UntilTheWindowPasses()
    {
        var ct = TestEnvironment.TimeCap();
        var enabled = await EnableAsync(ct);
        var challenge = await ChallengeAsync(enabled.User);
        for (var i = 0; i < 5; i++)
        {
            using var wrong = await SecondStepAsync(challenge, code: enabled.App.WrongCode());
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var locked = await SecondStepAsync(challenge, code: await enabled.App.NextCodeAsync(ct));

        Assert.Equal((HttpStatusCode)429, locked.StatusCode);
        Assert.InRange(locked.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(15));
        Assert.Equal(429, (await Json(locked)).GetProperty("status").GetInt32());
        Assert.Equal("1,2,3,4,5", await ScalarAsync(
            $"SELECT string_agg(detail->>'failures', ',' ORDER BY id) FROM a67.audit_events WHERE type = 'auth.2fa.failed' AND account_id = '{enabled.User.AccountId}'"));

        // The server's clock is real, so the window is made to have passed in the database.
        await ScalarAsync($"UPDATE a67.two_factor SET failure_window_started = now() - interval '16 minutes' WHERE account_id = '{enabled.User.AccountId}'");
        using var after = await SecondStepAsync(challenge, code: enabled.App.LastCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(0, await ScalarAsync($"SELECT failures FROM a67.two_factor WHERE account_id = '{enabled.User.AccountId}'"));
    }

    [Fact]
    public async Task Disable_NeedsThePasswordAndACurrentCode_ThenThePasswordAloneSignsIn()
    {
        var ct = TestEnvironment.TimeCap();
        var enabled = await EnableAsync(ct);
        var user = enabled.User;
        using var otherLogin = await SecondStepAsync(await ChallengeAsync(user), backupCode: enabled.BackupCodes[0]);
        var other = ControlPlaneFixture.Session.From(user.Email, user.Password, await otherLogin.Content.ReadAsStringAsync(ct));

        using var wrongPassword = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/disable", user.AccessToken, new { password = "not the password", code = "000000" });
        using var wrongCode = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/disable", user.AccessToken, new { password = user.Password, code = enabled.App.WrongCode() });
        using var disabled = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/disable", user.AccessToken, new { password = user.Password, code = await enabled.App.NextCodeAsync(ct) });

        Assert.Equal(HttpStatusCode.Forbidden, wrongPassword.StatusCode);
        Assert.Equal("The password is wrong.", (await Json(wrongPassword)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, wrongCode.StatusCode);
        Assert.Equal("The code is wrong.", (await Json(wrongCode)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NoContent, disabled.StatusCode);
        Assert.Equal(0L, await ScalarAsync($"""
            SELECT (SELECT count(*) FROM a67.two_factor WHERE account_id = '{user.AccountId}')
                 + (SELECT count(*) FROM a67.two_factor_backup_codes WHERE account_id = '{user.AccountId}')
                 + (SELECT count(*) FROM a67.two_factor_challenges WHERE account_id = '{user.AccountId}')
            """));
        using var login = await Cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, ct);
        Assert.True((await Json(login)).TryGetProperty("accessToken", out _));
        using var otherRefresh = await Cp.Http.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = other.RefreshToken }, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, otherRefresh.StatusCode);
        using var again = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/disable", user.AccessToken, new { password = user.Password, code = "123456" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task Disable_TakesABackupCode_InPlaceOfALostAuthenticator()
    {
        var enabled = await EnableAsync(TestEnvironment.TimeCap());

        using var disabled = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/disable", enabled.User.AccessToken,
            new { password = enabled.User.Password, backupCode = enabled.BackupCodes[9] });

        Assert.Equal(HttpStatusCode.NoContent, disabled.StatusCode);
        Assert.False((await StatusAsync(enabled.User)).GetProperty("enabled").GetBoolean());
        Assert.Equal("backupCode", await ScalarAsync(
            $"SELECT detail->>'method' FROM a67.audit_events WHERE type = 'auth.2fa.disabled' AND account_id = '{enabled.User.AccountId}'"));
    }

    [Fact]
    public async Task BackupCodes_Regenerated_WithPasswordAndCode_ReplaceEveryOldCode()
    {
        var ct = TestEnvironment.TimeCap();
        var enabled = await EnableAsync(ct);

        using var wrongPassword = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/backup-codes", enabled.User.AccessToken, new { password = "not the password", code = "000000" });
        using var regenerated = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/backup-codes", enabled.User.AccessToken,
            new { password = enabled.User.Password, code = await enabled.App.NextCodeAsync(ct) });

        Assert.Equal(HttpStatusCode.Forbidden, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.OK, regenerated.StatusCode);
        var fresh = (await Json(regenerated)).GetProperty("backupCodes").EnumerateArray().Select(c => c.GetString()!).ToArray();
        Assert.Equal(10, fresh.Length);
        Assert.Empty(fresh.Intersect(enabled.BackupCodes));
        using var old = await SecondStepAsync(await ChallengeAsync(enabled.User), backupCode: enabled.BackupCodes[0]);
        using var replacement = await SecondStepAsync(await ChallengeAsync(enabled.User), backupCode: fresh[0]);
        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replacement.StatusCode);
    }

    [Fact]
    public async Task AuditAndLog_RecordTheWholeLifecycle_ButNeverASecretACodeOrAChallenge()
    {
        var ct = TestEnvironment.TimeCap();
        var (user, app, enrollment) = await EnrollAsync();
        using var confirm = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/confirm", user.AccessToken, new { code = await app.NextCodeAsync(ct) });
        var backupCodes = (await Json(confirm)).GetProperty("backupCodes").EnumerateArray().Select(c => c.GetString()!).ToArray();
        var usedCodes = new List<string> { app.LastCode! };
        var first = await ChallengeAsync(user);
        var wrong = app.WrongCode();
        using var refused = await SecondStepAsync(first, code: wrong);
        using var withCode = await SecondStepAsync(first, code: await app.NextCodeAsync(ct));
        usedCodes.Add(app.LastCode!);
        var second = await ChallengeAsync(user);
        using var withBackup = await SecondStepAsync(second, backupCode: backupCodes[0]);
        using var disabled = await Cp.SendAsync(HttpMethod.Post, "/api/auth/2fa/disable", user.AccessToken, new { password = user.Password, backupCode = backupCodes[1] });
        Assert.Equal(HttpStatusCode.NoContent, disabled.StatusCode);

        Assert.Equal(
            "auth.2fa.enrollment_started,auth.2fa.enabled,auth.2fa.challenged,auth.2fa.failed,auth.2fa.verified,auth.2fa.challenged,auth.2fa.verified,auth.2fa.disabled",
            await ScalarAsync($"SELECT string_agg(type, ',' ORDER BY id) FROM a67.audit_events WHERE account_id = '{user.AccountId}' AND type LIKE 'auth.2fa.%'"));
        var rows = (string)(await ScalarAsync($"SELECT string_agg(e::text, E'\\n') FROM a67.audit_events e WHERE account_id = '{user.AccountId}'"))!;
        var details = (string)(await ScalarAsync($"SELECT string_agg(detail::text, E'\\n') FROM a67.audit_events WHERE account_id = '{user.AccountId}'"))!;
        string[] secrets =
        [
            enrollment.GetProperty("secret").GetString()!, user.Password, first, second,
            .. backupCodes, .. backupCodes.Select(c => c.Replace("-", "", StringComparison.Ordinal)),
        ];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, rows, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(secret, Cp.Output, StringComparison.OrdinalIgnoreCase);
        }

        // Six digits turn up by chance in timestamps and log ids, so codes are looked for where one could be put: the details.
        Assert.All(usedCodes.Append(wrong), code => Assert.DoesNotContain(code, details, StringComparison.Ordinal));
    }
}
