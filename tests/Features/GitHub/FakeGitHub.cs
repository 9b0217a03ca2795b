using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace Automator67.Tests.Features.GitHub;

/// <summary>A GitHub user as the stand-in serves it.</summary>
public sealed record FakeGitHubUser(long Id, string Login, FakeGitHubEmail[] Emails)
{
    static long s_nextId = 9_000_000 + Random.Shared.Next(1_000_000);

    /// <summary>A new user whose primary email is <paramref name="email"/> (verified unless told otherwise).</summary>
    public static FakeGitHubUser With(string email, bool verified = true)
    {
        var id = Interlocked.Increment(ref s_nextId);
        return new FakeGitHubUser(id, $"octo-{id}", [new FakeGitHubEmail(email, Primary: true, Verified: verified)]);
    }
}

public sealed record FakeGitHubEmail(string Email, bool Primary, bool Verified);

/// <summary>
/// A stand-in for GitHub's OAuth and REST endpoints, in the test process on 127.0.0.1 and a free port. It is as strict
/// as GitHub where sign-in security lives: the client secret, single-use codes bound to their redirect_uri, and PKCE
/// (the code is exchanged only with the verifier whose SHA-256 is the challenge it saw at authorize).
/// </summary>
public sealed class FakeGitHub : IAsyncDisposable
{
    public const string ClientId = "Iv1.a67testclient";
    public const string ClientSecret = "a67-test-client-secret-0123456789abcdef";

    readonly WebApplication _app;
    readonly ConcurrentDictionary<string, (FakeGitHubUser User, string RedirectUri, string Challenge)> _codes = new();
    readonly ConcurrentDictionary<string, FakeGitHubUser> _tokens = new();
    readonly ConcurrentQueue<string> _secrets = new();
    int _exchanges;

    FakeGitHub(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>Who approves the next authorize request.</summary>
    public FakeGitHubUser NextUser { get; set; } = FakeGitHubUser.With($"someone-{Guid.NewGuid():N}@users.a67.test");

    /// <summary>The next authorize request is cancelled by the user (GitHub's <c>error=access_denied</c>).</summary>
    public bool DenyNext { get; set; }

    /// <summary><c>/user</c> answers 500 while set.</summary>
    public bool FailUserApi { get; set; }

    /// <summary>Token exchanges GitHub answered with a token.</summary>
    public int Exchanges => Volatile.Read(ref _exchanges);

    /// <summary>Every code and access token handed out: none of them may ever be stored, audited or logged by us.</summary>
    public IReadOnlyCollection<string> IssuedSecrets => _secrets;

    public static async Task<FakeGitHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var fake = new FakeGitHub(builder.Build());
        fake._app.MapGet("/login/oauth/authorize", fake.Authorize);
        fake._app.MapPost("/login/oauth/access_token", (Delegate)fake.AccessTokenAsync);
        fake._app.MapGet("/user", fake.User);
        fake._app.MapGet("/user/emails", fake.Emails);
        await fake._app.StartAsync();
        fake.BaseUrl = fake._app.Urls.Single(); // the port Kestrel picked
        return fake;
    }

    IResult Authorize(HttpContext http)
    {
        var q = http.Request.Query;
        string redirectUri = q["redirect_uri"].ToString(), state = q["state"].ToString(), challenge = q["code_challenge"].ToString();
        if (q["client_id"] != ClientId || !Uri.IsWellFormedUriString(redirectUri, UriKind.Absolute) || q["code_challenge_method"] != "S256"
            || challenge.Length != 43 || q["scope"] != "read:user user:email")
        {
            return Results.BadRequest("authorize: wrong client_id, redirect_uri, scope or PKCE challenge");
        }

        if (DenyNext)
        {
            DenyNext = false;
            return Results.Redirect(QueryHelpers.AddQueryString(redirectUri, new Dictionary<string, string?>
            {
                ["error"] = "access_denied",
                ["error_description"] = "The user has denied your application access.",
                ["state"] = state,
            }));
        }

        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
        _codes[code] = (NextUser, redirectUri, challenge);
        _secrets.Enqueue(code);
        return Results.Redirect(QueryHelpers.AddQueryString(redirectUri, new Dictionary<string, string?> { ["code"] = code, ["state"] = state }));
    }

    async Task<IResult> AccessTokenAsync(HttpContext http)
    {
        var form = await http.Request.ReadFormAsync();
        // GitHub answers 200 with an error field for a refused exchange.
        IResult Error(string error) => Results.Json(new Dictionary<string, string> { ["error"] = error, ["error_description"] = error });
        if (form["client_id"] != ClientId || form["client_secret"] != ClientSecret)
        {
            return Error("incorrect_client_credentials");
        }

        if (!_codes.TryRemove(form["code"].ToString(), out var issued))
        {
            return Error("bad_verification_code");
        }

        if (form["redirect_uri"] != issued.RedirectUri)
        {
            return Error("redirect_uri_mismatch");
        }

        var verifier = form["code_verifier"].ToString();
        if (verifier.Length < 43 || Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))) != issued.Challenge)
        {
            return Error("bad_verification_code");
        }

        var token = "gho_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(18));
        _tokens[token] = issued.User;
        _secrets.Enqueue(token);
        Interlocked.Increment(ref _exchanges);
        var accept = http.Request.Headers.Accept.ToString();
        return accept.Contains("application/json", StringComparison.Ordinal)
            ? Results.Json(new Dictionary<string, string> { ["access_token"] = token, ["token_type"] = "bearer", ["scope"] = "read:user,user:email" })
            : Results.Text($"access_token={token}&scope=read%3Auser%2Cuser%3Aemail&token_type=bearer", "application/x-www-form-urlencoded");
    }

    IResult User(HttpContext http) =>
        FailUserApi ? Results.StatusCode(500)
        : Caller(http) is { } user ? Results.Json(new { id = user.Id, login = user.Login, name = "The Octocat", type = "User", site_admin = false })
        : Results.Json(new { message = "Requires authentication" }, statusCode: 401);

    IResult Emails(HttpContext http) =>
        Caller(http) is { } user
            ? Results.Json(user.Emails.Select(e => new { email = e.Email, primary = e.Primary, verified = e.Verified, visibility = "private" }))
            : Results.Json(new { message = "Requires authentication" }, statusCode: 401);

    FakeGitHubUser? Caller(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..] : header.StartsWith("token ", StringComparison.Ordinal) ? header[6..] : "";
        return http.Request.Headers.UserAgent.Count > 0 && _tokens.TryGetValue(token, out var user) ? user : null;
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
