using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// The apps and operations API as a user calls it, against one control-plane process (tests that kill a process
/// switch to a client of another), plus what the tests check on an operation's history.
/// </summary>
public sealed partial class OperationsClient(HttpClient http, string accessToken)
{
    static readonly HttpClient ReplicaClient = new() { Timeout = TimeSpan.FromSeconds(2) };

    /// <summary>The sample image's spec: its port, 32 MiB, an HTTP check probed every second.</summary>
    public static object Spec(string tag, int replicas, string healthPath = "/healthz", int maxSurge = 1, int maxUnavailable = 0, int retries = 3) => new
    {
        image = $"{TestEnvironment.SampleImage}:{tag}",
        replicas,
        env = new Dictionary<string, string> { ["PORT"] = "8080" },
        ports = new[] { new { containerPort = 8080 } },
        resources = new { memoryMiB = 32 },
        healthCheck = new { kind = "http", port = 8080, path = healthPath, intervalSeconds = 1, timeoutSeconds = 1, retries },
        restartPolicy = new { name = "no" },
        rollout = new { maxSurge, maxUnavailable },
    };

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await http.SendAsync(request);
    }

    public async Task<Guid> CreateAppAsync(string name, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/apps", new { name = $"{name}-{Guid.NewGuid():N}"[..20] });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    public async Task<Guid> DeployAsync(Guid app, object spec, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/api/apps/{app}/deployments", spec);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(ct));
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetGuid();
    }

    public async Task<JsonElement> OperationAsync(Guid operation, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/api/operations/{operation}");
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    /// <summary>Deploys <paramref name="spec"/> to the app and asserts that the deploy succeeded.</summary>
    public async Task DeployedAsync(Guid app, object spec, Func<string> output, CancellationToken ct) =>
        Assert.Equal("Succeeded", (await FinishedAsync(await DeployAsync(app, spec, ct), output, ct)).GetProperty("status").GetString());

    /// <summary>Polls until the operation has ended; on the time cap, fails with its last view and <paramref name="output"/>.</summary>
    public async Task<JsonElement> FinishedAsync(Guid operation, Func<string> output, CancellationToken ct)
    {
        while (true)
        {
            var view = await OperationAsync(operation, CancellationToken.None);
            if (view.GetProperty("status").GetString() is not ("Pending" or "Running" or "RollingBack"))
            {
                return view;
            }

            if (ct.IsCancellationRequested)
            {
                var text = output();
                Assert.Fail($"operation {operation} did not finish: {view}\n{text[^Math.Min(6000, text.Length)..]}");
            }

            await Task.Delay(200, CancellationToken.None);
        }
    }

    public async Task<List<JsonElement>> ReplicasAsync(Guid app, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/api/apps/{app}/replicas");
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).EnumerateArray()];
    }

    /// <summary>Polls the replicas until <paramref name="done"/> holds for them.</summary>
    public Task<List<JsonElement>> ReplicasWhenAsync(Guid app, Func<List<JsonElement>, bool> done, CancellationToken ct) =>
        Poll.UntilAsync(() => ReplicasAsync(app, ct), done, TimeSpan.FromMilliseconds(100), ct);

    /// <summary>What the replica answers on its published port.</summary>
    public static async Task<string> AnswerAsync(JsonElement replica, CancellationToken ct)
    {
        var port = replica.GetProperty("ports").EnumerateArray().First().GetProperty("hostPort").GetInt32();
        return await ReplicaClient.GetStringAsync($"http://127.0.0.1:{port}/", ct);
    }

    public static bool Is(JsonElement replica, int release, string state) =>
        replica.GetProperty("release").GetInt32() == release && replica.GetProperty("state").GetString() == state;

    /// <summary>
    /// No step of the operation was done twice: each pull and start attempt was sent once, an attempt after the first
    /// only after a retry was scheduled for it, each replica stopped once and removed once per retry, and the
    /// operation's <c>attempts</c> count exactly the commands its history says were sent.
    /// </summary>
    public static void AssertNoStepDoneTwice(JsonElement operation)
    {
        var history = operation.GetProperty("history").EnumerateArray()
            .Select(h => (Type: h.GetProperty("type").GetString()!, Message: h.GetProperty("message").GetString()!)).ToList();
        var sent = history.Where(h => h.Type == "command-sent").Select(h => h.Message).ToList();
        var retries = history.Where(h => h.Type == "retry-scheduled").Select(h => h.Message).ToList();
        var all = string.Join("\n", history.Select(h => $"{h.Type}: {h.Message}"));

        var starts = sent.Select(m => StartSent().Match(m)).Where(m => m.Success).ToList();
        var pulls = sent.Select(m => PullSent().Match(m)).Where(m => m.Success).ToList();
        foreach (var attempts in starts.GroupBy(m => m.Groups["what"].Value))
        {
            var numbers = attempts.Select(m => int.Parse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(numbers.SequenceEqual(Enumerable.Range(1, numbers.Count)), $"start attempts {string.Join(", ", numbers)} of {attempts.Key}:\n{all}");
            Assert.True(numbers.Count - 1 == retries.Count(r => r.StartsWith($"retrying starting {attempts.Key} in ", StringComparison.Ordinal)),
                $"{numbers.Count} starts of {attempts.Key} without as many retries:\n{all}");
        }

        foreach (var attempts in pulls.GroupBy(m => (Image: m.Groups["image"].Value, Node: m.Groups["node"].Value)))
        {
            var numbers = attempts.Select(m => int.Parse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(numbers.SequenceEqual(Enumerable.Range(1, numbers.Count)), $"pull attempts {string.Join(", ", numbers)} of {attempts.Key}:\n{all}");
        }

        // A retry of a pull names its node only; across the images pulled there, pulls beyond the first are retries.
        foreach (var node in pulls.GroupBy(m => m.Groups["node"].Value))
        {
            var beyondFirst = node.Count() - node.Select(m => m.Groups["image"].Value).Distinct().Count();
            Assert.True(beyondFirst == retries.Count(r => r.StartsWith($"retrying the pull on {node.Key} in ", StringComparison.Ordinal)),
                $"{node.Count()} pulls on {node.Key} without as many retries:\n{all}");
        }

        foreach (var stops in sent.Where(m => m.StartsWith("stop ", StringComparison.Ordinal)).GroupBy(m => m[..m.IndexOf(" (", StringComparison.Ordinal)]))
        {
            Assert.True(stops.Count() == 1, $"{stops.Key} sent {stops.Count()} times:\n{all}");
        }

        foreach (var removes in sent.Where(m => m.StartsWith("remove ", StringComparison.Ordinal)).GroupBy(m => m))
        {
            var retried = retries.Count(r => r.StartsWith($"retrying removing {removes.Key["remove ".Length..]} in ", StringComparison.Ordinal));
            Assert.True(removes.Count() == 1 + retried, $"{removes.Key} sent {removes.Count()} times, retried {retried}:\n{all}");
        }

        var counted = operation.GetProperty("attempts");
        Assert.Equal(starts.Count, counted.TryGetProperty("start", out var start) ? start.GetInt32() : 0);
        Assert.Equal(pulls.Count, counted.TryGetProperty("pull", out var pull) ? pull.GetInt32() : 0);
    }

    [GeneratedRegex(@"^start (?<what>.+) \(attempt (?<n>\d+)\)$")]
    private static partial Regex StartSent();

    [GeneratedRegex(@"^pull (?<image>\S+) on (?<node>.+) \(attempt (?<n>\d+)\)$")]
    private static partial Regex PullSent();
}
