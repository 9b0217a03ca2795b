using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.GitHub;

/// <summary>
/// The three calls GitHub sign-in makes: the code exchange (with the PKCE verifier), <c>GET /user</c> and
/// <c>GET /user/emails</c>. A typed client with a timeout and a bounded answer size; GitHub's access token lives only
/// in this request and is never logged, stored or audited.
/// </summary>
public sealed partial class GitHubClient(HttpClient http, IOptions<GitHubOptions> options, ILogger<GitHubClient> logger)
{
    public const string ApiVersion = "2022-11-28";

    public async Task<TokenExchange> ExchangeCodeAsync(string code, string redirectUri, string codeVerifier, CancellationToken ct)
    {
        var github = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, github.TokenUrl)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["client_id"] = github.ClientId!,
                ["client_secret"] = github.ClientSecret!,
                ["code"] = code,
                ["redirect_uri"] = redirectUri,
                ["code_verifier"] = codeVerifier,
            }),
        };
        // Without this GitHub answers form-encoded.
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var answer = await SendAsync(request, GitHubJson.Default.GitHubTokenAnswer, "token exchange", ct);
        return answer switch
        {
            { AccessToken.Length: > 0 } => new TokenExchange.Issued(answer.AccessToken),
            // GitHub answers a refused code with 200 and an error field.
            { Error.Length: > 0 } => new TokenExchange.Refused(ErrorCode(answer.Error)),
            _ => throw Unavailable("token exchange", "an answer with neither access_token nor error"),
        };
    }

    public async Task<GitHubIdentity> GetIdentityAsync(string accessToken, CancellationToken ct)
    {
        var user = await GetAsync("/user", accessToken, GitHubJson.Default.GitHubUser, ct);
        if (user.Id <= 0 || string.IsNullOrEmpty(user.Login) || user.Login.Length > 100)
        {
            throw Unavailable("GET /user", "an answer without a valid id and login");
        }

        var emails = await GetAsync("/user/emails", accessToken, GitHubJson.Default.GitHubEmailArray, ct);
        var primary = emails.FirstOrDefault(e => e is { Primary: true, Verified: true, Email.Length: > 0 })?.Email;
        return new GitHubIdentity(user.Id.ToString(CultureInfo.InvariantCulture), user.Login, primary);
    }

    async Task<T> GetAsync<T>(string path, string accessToken, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, options.Value.ApiUrl.TrimEnd('/') + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        request.Headers.Add("X-GitHub-Api-Version", ApiVersion);
        return await SendAsync(request, type, $"GET {path}", ct);
    }

    async Task<T> SendAsync<T>(HttpRequestMessage request, JsonTypeInfo<T> type, string call, CancellationToken ct)
    {
        try
        {
            using var response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw Unavailable(call, $"HTTP {(int)response.StatusCode}");
            }

            return await response.Content.ReadFromJsonAsync(type, ct) ?? throw Unavailable(call, "an empty answer");
        }
        catch (HttpRequestException ex)
        {
            throw Unavailable(call, ex.Message);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw Unavailable(call, "an answer that is not the JSON expected");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Unavailable(call, $"no answer within {options.Value.Timeout}");
        }
    }

    GitHubUnavailableException Unavailable(string call, string reason)
    {
        LogUnavailable(call, reason);
        return new GitHubUnavailableException($"GitHub's {call} failed: {reason}");
    }

    // GitHub's error codes are short snake_case words; anything else is not repeated to the user or the audit log.
    internal static string ErrorCode(string error) =>
        error.Length <= 64 && error.All(c => c is (>= 'a' and <= 'z') or '_') ? error : "unrecognised_error";
}
