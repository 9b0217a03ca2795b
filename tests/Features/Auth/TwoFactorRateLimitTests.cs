using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Auth;

/// <summary>The per-IP limit on <c>/api/auth/2fa</c>, on a control plane of its own started with a limit of 3 a minute.</summary>
public sealed class TwoFactorRateLimitTests
{
    [Fact]
    public async Task TwoFactorRoutes_Return429WithRetryAfter_PastThePerIpLimit_AndOtherRoutesAreNotLimited()
    {
        await using var cp = new ControlPlaneFixture();
        cp.Settings["RateLimits__TwoFactorPerIpPerMinute"] = "3";
        await cp.InitializeAsync();
        var user = await cp.SignUpAsync();
        var ct = TestEnvironment.TimeCap();

        for (var i = 0; i < 3; i++)
        {
            using var allowed = await cp.Http.PostAsJsonAsync("/api/auth/2fa/login", new { challengeToken = "a67_2fa_unknown", code = "123456" }, ct);
            Assert.Equal(HttpStatusCode.Unauthorized, allowed.StatusCode);
        }

        using var limited = await cp.Http.PostAsJsonAsync("/api/auth/2fa/login", new { challengeToken = "a67_2fa_unknown", code = "123456" }, ct);
        using var limitedStatus = await cp.SendAsync(HttpMethod.Get, "/api/auth/2fa", user.AccessToken);
        using var me = await cp.SendAsync(HttpMethod.Get, "/api/auth/me", user.AccessToken);
        using var login = await cp.Http.PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, ct);

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.InRange(limited.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        var problem = await limited.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.Equal(HttpStatusCode.TooManyRequests, limitedStatus.StatusCode);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
    }
}
