using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Metrics;

/// <summary>
/// The metrics API and /metrics end to end: the real control plane, a real relay, real containers of an app deployed
/// through the API.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class MetricsEndpointsTests(MetricsFixture fixture) : IClassFixture<MetricsFixture>
{
    ControlPlaneFixture ControlPlane => fixture.ControlPlane;

    string Token => fixture.Owner.AccessToken;

    static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    async Task<int> RunningContainersAsync()
    {
        var own = await fixture.Docker.ListOwnContainersAsync();
        return own.Count(c => c.State == "running" && c.Labels.TryGetValue(ContainerLabels.App, out var app) && app == fixture.AppId.ToString("N"));
    }

    /// <summary>Polls the app's 10 s points until the last complete one shows every replica with memory and some CPU.</summary>
    async Task<JsonElement> SteadyPointAsync(string path, CancellationToken ct)
    {
        JsonElement last = default;
        while (!ct.IsCancellationRequested)
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, $"{path}?step=10s&from={Iso(DateTimeOffset.UtcNow.AddMinutes(-2))}", Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var points = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("points").EnumerateArray().ToList();
            // The newest step is still filling: take the one before.
            if (points.Count >= 2)
            {
                last = points[^2];
                if (last.GetProperty("replicas").GetInt32() == MetricsFixture.Replicas && last.GetProperty("memoryBytes").GetProperty("avg").GetInt64() > 0
                    && last.GetProperty("cpuPercent").GetProperty("max").GetDouble() > 0)
                {
                    return last;
                }
            }

            await Task.Delay(1000, CancellationToken.None);
        }

        Assert.Fail($"no steady point at {path}; the last was {last}");
        return last;
    }

    [Fact]
    public async Task AppAndNodeMetrics_CountTheRunningContainers_WithMemoryAndCpu()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));

        var point = await SteadyPointAsync($"/api/apps/{fixture.AppId}/metrics", ct);

        Assert.Equal(await RunningContainersAsync(), point.GetProperty("replicas").GetInt32());
        var memory = point.GetProperty("memoryBytes");
        Assert.InRange(memory.GetProperty("avg").GetInt64(), 1, MetricsFixture.Replicas * 32L * 1024 * 1024);
        Assert.True(memory.GetProperty("max").GetInt64() >= memory.GetProperty("avg").GetInt64());
        var cpu = point.GetProperty("cpuPercent");
        Assert.InRange(cpu.GetProperty("max").GetDouble(), 0.01, MetricsFixture.Replicas * 5 * 1.5);   // capped at 5% of a core each
        Assert.Equal(0, point.GetProperty("restarts").GetInt64());

        // The node runs nothing else: the same containers.
        var node = await SteadyPointAsync($"/api/nodes/{fixture.Relay.NodeId}/metrics", ct);
        Assert.Equal(MetricsFixture.Replicas, node.GetProperty("replicas").GetInt32());

        // The default window: the last hour per minute.
        using var defaults = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{fixture.AppId}/metrics", Token);
        var series = await defaults.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(60, series.GetProperty("stepSeconds").GetInt32());
        Assert.Equal("minute", series.GetProperty("source").GetString());
        Assert.Equal("app", series.GetProperty("subject").GetString());
        Assert.NotEmpty(series.GetProperty("points").EnumerateArray());
    }

    [Fact]
    public async Task Csv_HasAHeaderAndParsingRows_ByQueryOrAcceptHeader()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        await SteadyPointAsync($"/api/apps/{fixture.AppId}/metrics", ct);
        var from = Iso(DateTimeOffset.UtcNow.AddMinutes(-2));

        using var byQuery = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{fixture.AppId}/metrics?step=10s&from={from}&format=csv", Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/apps/{fixture.AppId}/metrics?step=10s&from={from}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        request.Headers.Accept.ParseAdd("text/csv");
        using var byAccept = await ControlPlane.Http.SendAsync(request, ct);

        foreach (var response in new[] { byQuery, byAccept })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
            var text = await response.Content.ReadAsStringAsync(ct);
            Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
            var lines = text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("at,cpuPercentAvg,cpuPercentMax,memoryBytesAvg,memoryBytesMax,networkRxBytes,networkTxBytes,restarts,replicas", lines[0]);
            Assert.True(lines.Length >= 3, text);
            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(',');
                Assert.Equal(9, fields.Length);
                Assert.True(DateTimeOffset.TryParse(fields[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _), line);
                Assert.All(fields[1..3], f => Assert.True(double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _), line));
                Assert.All(fields[3..], f => Assert.True(long.TryParse(f, NumberStyles.Integer, CultureInfo.InvariantCulture, out _), line));
            }

            Assert.Contains(lines.Skip(1), l => l.EndsWith($",{MetricsFixture.Replicas}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task BadInput_Is400NamingTheParameter_AndAnotherAccountsAppOrNodeIs404()
    {
        var ct = TestEnvironment.TimeCap();
        var now = DateTimeOffset.UtcNow;
        (string Query, string Field, string Says)[] cases =
        [
            ($"from={Iso(now)}&to={Iso(now.AddHours(-1))}", "from", "must be before to"),
            ("step=5s", "step", "at least 10s"),
            ("step=fast", "step", "number followed by s, m, h or d"),
            ($"from={Iso(now.AddDays(-2))}&step=10s", "step", "a request returns at most 10000"),
            ($"from={Iso(now.AddDays(-3))}&step=30s", "from", "raw points (steps that are not whole minutes) are kept 24 h"),
            ($"from={Iso(now.AddDays(-100))}&step=1d", "from", "hour buckets are kept 90 days"),
            ("from=yesterday", "from", "ISO 8601"),
            ("format=xml", "format", "json or csv"),
        ];
        foreach (var (query, field, says) in cases)
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{fixture.AppId}/metrics?{query}", Token);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            Assert.Contains(says, problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
        }

        var stranger = await ControlPlane.SignUpAsync();
        foreach (var path in new[] { $"/api/apps/{fixture.AppId}/metrics", $"/api/nodes/{fixture.Relay.NodeId}/metrics", $"/api/apps/{Guid.NewGuid()}/metrics" })
        {
            using var response = await ControlPlane.SendAsync(HttpMethod.Get, path, stranger.AccessToken);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using var anonymous = await ControlPlane.SendAsync(HttpMethod.Get, $"/api/apps/{fixture.AppId}/metrics", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task PrometheusEndpoint_FromLoopback_HasTheFamilies_AndAForwardedNonAdminIsRefused()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(100));

        // The retention job runs every minute here: its duration is a sweep duration.
        var families = new Dictionary<string, string>();
        var samples = new List<string>();
        static bool Retention(List<string> samples) =>
            samples.Any(s => s.StartsWith("a67_sweep_duration_seconds_count{sweep=\"metrics-retention\"}", StringComparison.Ordinal));
        while (!Retention(samples) && !ct.IsCancellationRequested)
        {
            using var response = await ControlPlane.Http.GetAsync("/metrics", ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            (families, samples) = Parse(await response.Content.ReadAsStringAsync(ct));
            await Task.Delay(2000, CancellationToken.None);
        }

        Assert.True(families.ContainsKey("a67_sweep_duration_seconds"), string.Join("\n", samples)
            + string.Join("\n", ControlPlane.Output.Split('\n').Where(l => l.Contains("etric", StringComparison.Ordinal) || l.Contains("ecurring", StringComparison.Ordinal))));
        Assert.Equal("histogram", families["a67_sweep_duration_seconds"]);
        Assert.Contains(samples, s => s.StartsWith("a67_sweep_duration_seconds_count{sweep=\"metrics-retention\"}", StringComparison.Ordinal));
        Assert.Contains(samples, s => s.StartsWith("a67_sweep_duration_seconds_count{sweep=\"health\"}", StringComparison.Ordinal));
        Assert.Equal("gauge", families["a67_operations"]);
        Assert.Contains(samples, s => s == "a67_operations{kind=\"deploy\",status=\"Succeeded\"} 1");
        Assert.Equal("counter", families["a67_operation_step_retries_total"]);
        Assert.Equal("gauge", families["a67_queue_messages"]);
        Assert.Contains(samples, s => s.StartsWith($"a67_queue_messages{{queue=\"{ControlPlane.Queues.Prefix}-relay-events\"}}", StringComparison.Ordinal));
        Assert.Contains(samples, s => s.StartsWith($"a67_queue_oldest_message_age_seconds{{queue=\"{ControlPlane.Queues.Prefix}-node-{fixture.Relay.NodeId:N}\"}}", StringComparison.Ordinal));
        var heartbeat = samples.Single(s => s.StartsWith($"a67_node_heartbeat_age_seconds{{node=\"{fixture.Relay.NodeId}\"}}", StringComparison.Ordinal));
        Assert.InRange(double.Parse(heartbeat.Split(' ')[1], CultureInfo.InvariantCulture), 0, 30);

        // Through a proxy (a forwarded header), loopback is no longer enough, and a user's token is no admin's.
        using var forwarded = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        forwarded.Headers.Add("X-Forwarded-For", "203.0.113.9");
        forwarded.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var refused = await ControlPlane.Http.SendAsync(forwarded, ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("instance admin", (await refused.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>The text format: <c># TYPE name kind</c> lines, and sample lines <c>name{labels} value</c>.</summary>
    static (Dictionary<string, string> Families, List<string> Samples) Parse(string text)
    {
        var families = new Dictionary<string, string>();
        var samples = new List<string>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                families[parts[2]] = parts[3];
            }
            else if (!line.StartsWith('#'))
            {
                Assert.Matches(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$", line);
                samples.Add(line);
            }
        }

        return (families, samples);
    }
}
