using System.Net;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.GitHub;

/// <summary>The stand-in GitHub, then a control plane whose GitHub settings point at it (and any set before in <c>ControlPlane.Settings</c>).</summary>
public sealed class GitHubFixture : IAsyncLifetime
{
    public ControlPlaneFixture ControlPlane { get; } = new();

    public FakeGitHub GitHub { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        GitHub = await FakeGitHub.StartAsync();
        ControlPlane.Settings["GitHub__ClientId"] = FakeGitHub.ClientId;
        ControlPlane.Settings["GitHub__ClientSecret"] = FakeGitHub.ClientSecret;
        ControlPlane.Settings["GitHub__AuthorizeUrl"] = $"{GitHub.BaseUrl}/login/oauth/authorize";
        ControlPlane.Settings["GitHub__TokenUrl"] = $"{GitHub.BaseUrl}/login/oauth/access_token";
        ControlPlane.Settings["GitHub__ApiUrl"] = GitHub.BaseUrl;
        await ControlPlane.InitializeAsync();
    }

    /// <summary>A new browser: its own cookies, redirects followed by hand so each hop can be checked.</summary>
    public Browser NewBrowser() => new(ControlPlane.Http.BaseAddress!);

    public async ValueTask DisposeAsync()
    {
        await ControlPlane.DisposeAsync();
        if (GitHub is not null)
        {
            await GitHub.DisposeAsync();
        }
    }
}

/// <summary>The same, on an instance that takes no sign-ups (<c>Auth__AllowSignup=false</c>).</summary>
public sealed class ClosedSignupGitHubFixture : IAsyncLifetime
{
    public GitHubFixture Inner { get; } = new();

    public async ValueTask InitializeAsync()
    {
        Inner.ControlPlane.Settings["Auth__AllowSignup"] = "false";
        await Inner.InitializeAsync();
    }

    public ValueTask DisposeAsync() => Inner.DisposeAsync();
}

/// <summary>What a browser does in the flow: keep cookies and follow the redirects it is given.</summary>
public sealed class Browser : IDisposable
{
    readonly HttpClientHandler _handler;

    public Browser(Uri controlPlane)
    {
        _handler = new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false, UseCookies = true };
        Http = new HttpClient(_handler) { BaseAddress = controlPlane, Timeout = TimeSpan.FromSeconds(15) };
    }

    public CookieContainer Cookies { get; } = new();

    public HttpClient Http { get; }

    /// <summary>The flow cookie this browser holds, if any.</summary>
    public string? FlowCookie => Cookies.GetCookies(new Uri(Http.BaseAddress!, "/api/auth/github/callback"))["a67_github_flow"]?.Value;

    /// <summary><c>GET /api/auth/github/start</c>: must redirect to GitHub; returns GitHub's authorize URL.</summary>
    public async Task<Uri> StartAsync()
    {
        using var start = await Http.GetAsync("/api/auth/github/start", TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        return start.Headers.Location!;
    }

    /// <summary>At GitHub: approve (or cancel) and return where GitHub sends the browser back to.</summary>
    public async Task<Uri> AuthorizeAsync(Uri authorizeUrl)
    {
        using var github = await Http.GetAsync(authorizeUrl, TestEnvironment.TimeCap());
        Assert.Equal(HttpStatusCode.Redirect, github.StatusCode);
        return github.Headers.Location!;
    }

    /// <summary>The whole sign-in: start, GitHub, callback; returns the callback's answer.</summary>
    public async Task<HttpResponseMessage> SignInAsync() => await Http.GetAsync(await AuthorizeAsync(await StartAsync()), TestEnvironment.TimeCap());

    public void Dispose()
    {
        Http.Dispose();
        _handler.Dispose();
    }
}
