using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Automator67.Bench;

/// <summary>
/// One account per worker, signed up through the API as a user would, so each worker logs in as someone else and
/// calls <c>/me</c> with a session of its own (a per-account limit or cache never sees one hot account).
/// </summary>
public sealed class AuthWorkload
{
    readonly byte[][] _loginBodies;
    readonly string[] _accessTokens;

    AuthWorkload(byte[][] loginBodies, string[] accessTokens)
    {
        _loginBodies = loginBodies;
        _accessTokens = accessTokens;
    }

    public static async Task<AuthWorkload> SignUpAsync(HttpClient http, string runId, int accounts, CancellationToken ct)
    {
        var bodies = new byte[accounts][];
        var tokens = new string[accounts];
        for (var i = 0; i < accounts; i++)
        {
            var credentials = new { email = $"bench-{runId}-{i}@a67.test", password = $"bench {runId} correct horse {i}" };
            using var response = await http.PostAsJsonAsync("/api/auth/signup", credentials, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"sign-up answered {(int)response.StatusCode}: {body}");
            }

            using var json = JsonDocument.Parse(body);
            tokens[i] = json.RootElement.GetProperty("accessToken").GetString()!;
            bodies[i] = JsonSerializer.SerializeToUtf8Bytes(credentials);
        }

        return new AuthWorkload(bodies, tokens);
    }

    public HttpRequestMessage Login(int worker)
    {
        var content = new ByteArrayContent(_loginBodies[worker % _loginBodies.Length]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return new HttpRequestMessage(HttpMethod.Post, "/api/auth/login") { Content = content };
    }

    public HttpRequestMessage Me(int worker)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/auth/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _accessTokens[worker % _accessTokens.Length]);
        return request;
    }

    public static HttpRequestMessage Healthz() => new(HttpMethod.Get, "/healthz");
}
