using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Automator67.Bench;

/// <summary>
/// Automator67's side of the deploy workload, through the real HTTP API as a user deploys: create an app, POST a
/// release spec to <c>/api/apps/{id}/deployments</c>, then poll <c>GET /api/operations/{id}</c> every
/// <see cref="PollInterval"/> until the operation has ended; Succeeded means every replica passed its health check.
/// Then <c>DELETE /api/apps/{id}</c> (a remove operation: every replica stopped and removed, then the app) is polled
/// the same way.
/// </summary>
public sealed class AppDeployments(BenchApi api, string image)
{
    public string Image { get; } = image;

    /// <summary>How often both sides of the comparison look: the end of a deploy is seen up to this much late.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>An operation still running by then counts as failed: the bench must end.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The release spec, matched by the Swarm service: the sample image answering on 8080 with an automatic host port,
    /// 32 MiB, an HTTP check of /healthz every second (1 s timeout, 3 failures), the default restart policy and
    /// rollout (maxSurge 1, maxUnavailable 0: a first deploy has no old replicas, so all N are placed at once).
    /// </summary>
    public static object Spec(string image, int replicas) => new
    {
        image,
        replicas,
        env = new Dictionary<string, string> { ["PORT"] = "8080" },
        ports = new[] { new { containerPort = 8080 } },
        resources = new { memoryMiB = 32 },
        healthCheck = new { kind = "http", port = 8080, path = "/healthz", intervalSeconds = 1, timeoutSeconds = 1, retries = 3 },
    };

    /// <summary>Deploys <paramref name="replicas"/> replicas as a new app; the clock runs from the POST to the poll that sees the operation end.</summary>
    public async Task<(Guid App, DeployTiming Timing)> DeployAsync(string name, int replicas, CancellationToken ct)
    {
        var app = (await api.PostAsync("/api/apps", new { name }, HttpStatusCode.Created, ct)).GetProperty("id").GetGuid();
        var start = Stopwatch.GetTimestamp();
        var accepted = await api.PostAsync($"/api/apps/{app}/deployments", Spec(Image, replicas), HttpStatusCode.Accepted, ct);
        var (operation, wall) = await WaitAsync(accepted.GetProperty("id").GetGuid(), start, ct);
        var status = operation.GetProperty("status").GetString();
        var created = operation.GetProperty("createdAt").GetDateTimeOffset();
        var history = operation.GetProperty("history").EnumerateArray().ToList();
        TimeSpan? Last(string type, string ending) => history
            .Where(h => h.GetProperty("type").GetString() == type && h.GetProperty("message").GetString()!.EndsWith(ending, StringComparison.Ordinal))
            .Select(h => h.GetProperty("at").GetDateTimeOffset() - created)
            .DefaultIfEmpty()
            .Max() is { Ticks: > 0 } at ? at : null;
        return (app, new DeployTiming(
            replicas,
            status == "Succeeded" ? null : $"{status}: {operation.GetProperty("reason").GetString() ?? "no reason given"}",
            wall,
            Last("result", " started"),
            Last("result", " is healthy"),
            operation.GetProperty("finishedAt").ValueKind == JsonValueKind.Null ? null : operation.GetProperty("finishedAt").GetDateTimeOffset() - created,
            operation.GetProperty("attempts").EnumerateObject().Sum(a => a.Value.GetInt32())));
    }

    /// <summary>Removes the app (and so every replica of it); the time from the DELETE to the poll that sees the remove operation end.</summary>
    public async Task<TimeSpan> RemoveAsync(Guid app, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        var accepted = await api.DeleteAsync($"/api/apps/{app}", HttpStatusCode.Accepted, ct);
        var (operation, wall) = await WaitAsync(accepted.GetProperty("id").GetGuid(), start, ct);
        var status = operation.GetProperty("status").GetString();
        return status == "Succeeded"
            ? wall
            : throw new InvalidOperationException($"removing app {app} ended {status}: {operation.GetProperty("reason").GetString()}");
    }

    async Task<(JsonElement Operation, TimeSpan Wall)> WaitAsync(Guid operation, long start, CancellationToken ct)
    {
        while (true)
        {
            var view = await api.GetAsync($"/api/operations/{operation}", ct);
            var wall = Stopwatch.GetElapsedTime(start);
            if (view.GetProperty("status").GetString() is not ("Pending" or "Running" or "RollingBack"))
            {
                return (view, wall);
            }

            if (wall > Limit)
            {
                throw new InvalidOperationException($"operation {operation} was still {view.GetProperty("status").GetString()} after {Limit.TotalMinutes} minutes (step {view.GetProperty("step").GetString()})");
            }

            await Task.Delay(PollInterval, ct);
        }
    }
}

/// <summary>
/// One deploy of N replicas by one side. <see cref="Healthy"/> is what the comparison uses: the bench's clock from the
/// request to the poll that saw every replica healthy. The rest says where the time went: when the last replica was
/// running and the last one healthy, and when the operation finished (Automator67: from its history, its own clock,
/// from the operation's creation; Swarm: the bench's polls), and how many commands the operation sent.
/// </summary>
public sealed record DeployTiming(int Replicas, string? Failure, TimeSpan Healthy, TimeSpan? LastRunning, TimeSpan? LastHealthy, TimeSpan? Finished, int? Commands)
{
    /// <summary>The side ran out of the time it was given (Swarm past its limit): <see cref="Healthy"/> is then a lower bound.</summary>
    public bool TimedOut { get; init; }

    /// <summary>Tasks Swarm started beyond N (a task that failed and was replaced).</summary>
    public int ExtraTasks { get; init; }

    public TimeSpan? Removed { get; init; }

    public CpuUse? Cpu { get; init; }
}
