using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.GitHub;

/// <summary>An instance without GitHub settings: the GitHub endpoints say so plainly, never a 500.</summary>
public sealed class GitHubNotConfiguredTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    [Fact]
    public async Task GitHubEndpoints_Return501Problem_WhenGitHubIsNotConfigured()
    {
        var user = await cp.SignUpAsync();

        using var start = await cp.Http.GetAsync("/api/auth/github/start", TestEnvironment.TimeCap());
        using var callback = await cp.Http.GetAsync("/api/auth/github/callback?code=abc&state=def", TestEnvironment.TimeCap());
        using var link = await cp.SendAsync(HttpMethod.Post, "/api/auth/github/link", user.AccessToken);

        foreach (var response in new[] { start, callback, link })
        {
            Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap());
            Assert.Equal("GitHub sign-in is not configured on this instance", problem.GetProperty("title").GetString());
            Assert.Contains("GitHub__ClientId", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Null(start.Headers.Location);
        Assert.False(start.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task OpenApi_DescribesTheGitHubRoutes()
    {
        using var response = await cp.Http.GetAsync("/openapi/v1.json", TestEnvironment.TimeCap());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = (await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap())).GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/auth/github/callback", out var callback));
        Assert.Contains(callback.GetProperty("get").GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "state");
        Assert.True(paths.TryGetProperty("/api/auth/github/link", out _));
    }
}

/// <summary>GitHub settings that cannot work stop the start with one line naming them.</summary>
public sealed class GitHubSettingsTests
{
    static async Task<(int ExitCode, string Stderr)> StartAsync(Dictionary<string, string?> github)
    {
        var settings = new Dictionary<string, string?>(github)
        {
            ["ConnectionStrings__Postgres"] = TestEnvironment.Postgres,
            ["AzureWebJobsStorage"] = TestEnvironment.Storage,
            ["ControlPlane__Port"] = ProductProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        await using var process = ProductProcess.StartControlPlane(settings);
        var exitCode = await process.WaitForExitAsync(TestEnvironment.TimeCap());
        return (exitCode, process.Stderr.Trim());
    }

    [Fact]
    public async Task Start_Exits2_WhenOnlyTheClientIdIsSet()
    {
        var (exitCode, stderr) = await StartAsync(new() { ["GitHub__ClientId"] = "Iv1.only-the-id" });

        Assert.Equal(2, exitCode);
        Assert.Equal("automator67: Settings GitHub__ClientId and GitHub__ClientSecret go together: set both, or neither to turn GitHub sign-in off.", stderr);
    }

    [Fact]
    public async Task Start_Exits2_WhenAGitHubUrlIsNotAnHttpUrl()
    {
        var (exitCode, stderr) = await StartAsync(new() { ["GitHub__TokenUrl"] = "ftp://github.com/token" });

        Assert.Equal(2, exitCode);
        Assert.Equal("automator67: Setting GitHub__TokenUrl must be an absolute http or https URL.", stderr);
    }
}

/// <summary>GitHub sign-in is not a way around closed sign-ups.</summary>
public sealed class GitHubClosedSignupTests(ClosedSignupGitHubFixture closed) : IClassFixture<ClosedSignupGitHubFixture>
{
    readonly GitHubFixture _fixture = closed.Inner;

    [Fact]
    public async Task SignIn_Returns403_AndCreatesNothing_WhenSignupIsClosed()
    {
        var user = FakeGitHubUser.With($"newcomer-{Guid.NewGuid():N}@users.a67.test");
        _fixture.GitHub.NextUser = user;
        using var browser = _fixture.NewBrowser();

        using var response = await browser.SignInAsync();

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Sign-up is closed", (await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap())).GetProperty("title").GetString());
        await using var count = _fixture.ControlPlane.Database.DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM a67.accounts) + (SELECT count(*) FROM a67.external_logins)");
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync(TestEnvironment.TimeCap()))!);
    }
}
