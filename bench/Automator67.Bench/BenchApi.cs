using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Automator67.Bench;

/// <summary>
/// The control plane's HTTP API as one account of the run uses it: JSON in and out, with the account's bearer token.
/// An answer other than the one expected is an error that names the request and what came back.
/// </summary>
public sealed class BenchApi(HttpClient http, string accessToken)
{
    public HttpClient Http { get; } = http;

    public string AccessToken { get; } = accessToken;

    /// <summary>Signs up the run's account for <paramref name="owner"/> (each workload has its own, so their nodes and apps never mix).</summary>
    public static async Task<BenchApi> SignUpAsync(HttpClient http, string runId, string owner, CancellationToken ct)
    {
        var credentials = new { email = $"bench-{runId}-{owner}@a67.test", password = $"bench {runId} {owner} owner horse" };
        using var response = await http.PostAsJsonAsync("/api/auth/signup", credentials, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"sign-up answered {(int)response.StatusCode}: {body}");
        }

        using var json = JsonDocument.Parse(body);
        return new BenchApi(http, json.RootElement.GetProperty("accessToken").GetString()!);
    }

    public Task<JsonElement> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, HttpStatusCode.OK, ct);

    public Task<JsonElement> PostAsync(string path, object body, HttpStatusCode expected, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body, expected, ct);

    public Task<JsonElement> DeleteAsync(string path, HttpStatusCode expected, CancellationToken ct) => SendAsync(HttpMethod.Delete, path, null, expected, ct);

    /// <summary>Waits until the account has <paramref name="count"/> Ready nodes (placement takes no other): each relay's first heartbeat.</summary>
    public async Task WaitForReadyNodesAsync(int count, TimeSpan limit, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while ((await GetAsync("/api/nodes?status=Ready", ct)).GetArrayLength() < count)
        {
            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new InvalidOperationException($"fewer than {count} nodes were Ready {limit.TotalSeconds:0} s after their relays started");
            }

            await Task.Delay(200, ct);
        }
    }

    async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, HttpStatusCode expected, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        using var response = await Http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}, not {(int)expected}: {Format.Shorten(text)}");
        }

        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }
}
