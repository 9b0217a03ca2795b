using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Health;

/// <summary>The real control plane, started as its own process against the real PostgreSQL and Azurite.</summary>
public sealed class ControlPlaneSmokeTests(DatabaseFixture database, QueueFixture queues)
    : IClassFixture<DatabaseFixture>, IClassFixture<QueueFixture>
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    Dictionary<string, string?> Settings(int port) => new()
    {
        ["ConnectionStrings__Postgres"] = database.ConnectionString,
        ["AzureWebJobsStorage"] = TestEnvironment.Storage,
        ["Queues__Prefix"] = queues.Prefix,
        ["ControlPlane__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    static async Task<HttpResponseMessage> WaitForReadyAsync(ProductProcess process, string url, CancellationToken ct)
    {
        Assert.True(await process.WaitUntilAnsweringAsync(Http, url, ct), $"control plane exited: {process.Stderr}{process.Stdout}");
        while (true)
        {
            var response = await Http.GetAsync(url, ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(200, ct);
        }
    }

    [Fact]
    public async Task Readyz_Returns200_WhenDatabaseAndQueuesReachable()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var port = ProductProcess.FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        await using var process = ProductProcess.StartControlPlane(Settings(port));

        using var ready = await WaitForReadyAsync(process, $"{baseUrl}/readyz", ct);

        var body = await ready.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("queues").GetProperty("status").GetString());
        Assert.True(ready.Headers.Contains("X-Request-Id"));
        Assert.True((await queues.Service.GetQueueClient($"{queues.Prefix}-relay-events").ExistsAsync(ct)).Value);

        // The migrations ran and this process's Hangfire server registered itself in the database.
        await using var check = database.DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM a67.changelog WHERE success) > 0 AND (SELECT count(*) FROM hangfire.server) > 0");
        while (!(bool)(await check.ExecuteScalarAsync(ct))!)
        {
            await Task.Delay(200, ct);
        }
    }

    [Fact]
    public async Task Healthz_OpenApi_ReferencePage_ProblemDetails_AndRequestIdLogs_Answer()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var port = ProductProcess.FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var settings = Settings(port);
        settings["Logging__Console__FormatterName"] = "json";
        await using var process = ProductProcess.StartControlPlane(settings);
        (await WaitForReadyAsync(process, $"{baseUrl}/readyz", ct)).Dispose();

        using var healthz = await Http.GetAsync($"{baseUrl}/healthz", ct);
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);

        // Structured logs: the request's line carries the id the response names, and never its query string.
        using var withQuery = await Http.GetAsync($"{baseUrl}/healthz?code=secret-looking-code", ct);
        var requestId = withQuery.Headers.GetValues("X-Request-Id").Single();
        while (!process.Stdout.Contains($"\"RequestId\":\"{requestId}\"", StringComparison.Ordinal))
        {
            await Task.Delay(100, ct);
        }

        Assert.DoesNotContain("secret-looking-code", process.Stdout, StringComparison.Ordinal);

        var openApi = await Http.GetFromJsonAsync<JsonElement>($"{baseUrl}/openapi/v1.json", ct);
        Assert.StartsWith("3.", openApi.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/readyz", out _));

        using var reference = await Http.GetAsync($"{baseUrl}/scalar/v1", ct);
        Assert.Equal(HttpStatusCode.OK, reference.StatusCode);
        Assert.Contains("text/html", reference.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);

        // The dashboard belongs to the admin (see AdminTests): anonymous callers are refused.
        using var dashboard = await Http.GetAsync($"{baseUrl}/hangfire", ct);
        Assert.Equal(HttpStatusCode.Unauthorized, dashboard.StatusCode);

        using var missing = await Http.GetAsync($"{baseUrl}/api/no-such-thing", ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        var problem = await missing.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("requestId").GetString()));
    }

    [Fact]
    public async Task Readyz_Returns503_WithReason_WhenDatabaseUnreachable()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var port = ProductProcess.FreePort();
        var settings = Settings(port);
        settings["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port={ProductProcess.FreePort()};Username=postgres;Password=x;Database=none;Timeout=2";
        await using var process = ProductProcess.StartControlPlane(settings);
        var url = $"http://127.0.0.1:{port}/readyz";
        Assert.True(await process.WaitUntilAnsweringAsync(Http, url, ct), process.Stderr + process.Stdout);

        using var response = await Http.GetAsync(url, ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.Contains("database: database unreachable", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Healthy", problem.GetProperty("checks").GetProperty("queues").GetProperty("status").GetString());
        using var healthz = await Http.GetAsync($"http://127.0.0.1:{port}/healthz", ct);
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
    }

    [Fact]
    public async Task Sigterm_StopsTheProcessGracefully()
    {
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(60));
        var port = ProductProcess.FreePort();
        await using var process = ProductProcess.StartControlPlane(Settings(port));
        (await WaitForReadyAsync(process, $"http://127.0.0.1:{port}/readyz", ct)).Dispose();
        while (!process.Stdout.Contains("Orchestration server", StringComparison.Ordinal))
        {
            await Task.Delay(100, ct);
        }

        process.Terminate();

        Assert.Equal(0, await process.WaitForExitAsync(ct));
        Assert.Contains("stopped", process.Stdout, StringComparison.Ordinal);
        await using var servers = database.DataSource.CreateCommand("SELECT count(*) FROM hangfire.server WHERE id LIKE '%:' || @pid || ':%'");
        servers.Parameters.AddWithValue("pid", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0L, (long)(await servers.ExecuteScalarAsync(ct))!);
    }
}
