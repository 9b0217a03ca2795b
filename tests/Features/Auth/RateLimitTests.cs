using System.Net;
using System.Net.Http.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Auth;

/// <summary>A control plane with low limits, so refusals show within a handful of requests.</summary>
public sealed class LowLimitsControlPlane : IAsyncLifetime
{
    public ControlPlaneFixture Cp { get; } = new();

    public async ValueTask InitializeAsync()
    {
        Cp.Settings["RateLimits__SignupPerIpPerHour"] = "3";
        Cp.Settings["RateLimits__LoginPerIpPerMinute"] = "6";
        Cp.Settings["RateLimits__LoginFailuresPerAccountPerIp"] = "3";
        Cp.Settings["RateLimits__RefreshPerIpPerMinute"] = "2";
        await Cp.InitializeAsync();
    }

    public ValueTask DisposeAsync() => Cp.DisposeAsync();
}

public sealed class RateLimitTests(LowLimitsControlPlane fixture) : IClassFixture<LowLimitsControlPlane>
{
    ControlPlaneFixture Cp => fixture.Cp;

    static async Task AssertTooManyAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(429, (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(TestEnvironment.TimeCap())).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Signup_Returns429_PastTheLimitPerIp_AndAuditsIt()
    {
        using var client = Cp.ClientFrom("127.0.0.11");
        for (var i = 0; i < 3; i++)
        {
            using var ok = await client.PostAsJsonAsync("/api/auth/signup", new { email = $"s{i}-{Guid.NewGuid():N}@a67.test", password = "a long enough passphrase" }, TestEnvironment.TimeCap());
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        }

        using var refused = await client.PostAsJsonAsync("/api/auth/signup", new { email = $"s4-{Guid.NewGuid():N}@a67.test", password = "a long enough passphrase" }, TestEnvironment.TimeCap());

        await AssertTooManyAsync(refused);
        await using var audit = Cp.Database.DataSource.CreateCommand("SELECT count(*) FROM a67.audit_events WHERE type = 'auth.rate_limited' AND ip = '127.0.0.11'");
        Assert.Equal(1L, (long)(await audit.ExecuteScalarAsync(TestEnvironment.TimeCap()))!);
    }

    [Fact]
    public async Task Login_FailuresLockOnlyTheGuessersAddress_NotTheOwner()
    {
        var owner = await Cp.SignUpAsync();
        using var attacker = Cp.ClientFrom("127.0.0.12");
        using var ownersMachine = Cp.ClientFrom("127.0.0.13");
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await attacker.PostAsJsonAsync("/api/auth/login", new { email = owner.Email, password = $"guess number {i}" }, TestEnvironment.TimeCap());
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // Even the right password is refused from the guessing address: it must not learn that it found it.
        using var blocked = await attacker.PostAsJsonAsync("/api/auth/login", new { email = owner.Email, password = owner.Password }, TestEnvironment.TimeCap());
        using var owners = await ownersMachine.PostAsJsonAsync("/api/auth/login", new { email = owner.Email, password = owner.Password }, TestEnvironment.TimeCap());

        await AssertTooManyAsync(blocked);
        Assert.Equal(HttpStatusCode.OK, owners.StatusCode);
    }

    [Fact]
    public async Task Login_Returns429_PastTheLimitPerIp()
    {
        using var client = Cp.ClientFrom("127.0.0.14");
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
        {
            using var response = await client.PostAsJsonAsync("/api/auth/login", new { email = $"nobody{i}@a67.test", password = "whatever it is" }, TestEnvironment.TimeCap());
            statuses.Add(response.StatusCode);
            if (i == 6)
            {
                await AssertTooManyAsync(response);
            }
        }

        Assert.Equal(6, statuses.Count(s => s == HttpStatusCode.Unauthorized));
    }

    [Fact]
    public async Task Refresh_Returns429_PastTheLimitPerIp()
    {
        using var client = Cp.ClientFrom("127.0.0.15");

        using var first = await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = "a67_rt_unknown1" }, TestEnvironment.TimeCap());
        using var second = await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = "a67_rt_unknown2" }, TestEnvironment.TimeCap());
        using var third = await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = "a67_rt_unknown3" }, TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        await AssertTooManyAsync(third);
    }
}
