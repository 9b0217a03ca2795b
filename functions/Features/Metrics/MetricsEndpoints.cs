using System.Globalization;
using System.Text;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Metrics;

/// <summary>A subject's points over a window, as <c>GET /api/apps/{id}/metrics</c> and <c>/api/nodes/{id}/metrics</c> return them.</summary>
public sealed record MetricsSeries(string Subject, Guid Id, DateTimeOffset From, DateTimeOffset To, int StepSeconds, string Source, MetricsPoint[] Points);

/// <summary>
/// <c>GET /api/apps/{id}/metrics</c> and <c>GET /api/nodes/{id}/metrics</c> with <c>from</c>, <c>to</c>, <c>step</c>:
/// JSON, or CSV (RFC 4180, a header row) with <c>Accept: text/csv</c> or <c>?format=csv</c>. Another account's app or
/// node is 404. See docs/metrics.md.
/// </summary>
public static class MetricsEndpoints
{
    public const string CsvContentType = "text/csv";

    public const string CsvHeader = "at,cpuPercentAvg,cpuPercentMax,memoryBytesAvg,memoryBytesMax,networkRxBytes,networkTxBytes,restarts,replicas";

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/apps/{id:guid}/metrics", AppMetrics).WithTags("Metrics").RequireAuthorization(ScopePolicies.Read);
        routes.MapGet("/api/nodes/{id:guid}/metrics", NodeMetrics).WithTags("Metrics").RequireAuthorization(ScopePolicies.Read);
        return routes;
    }

    /// <summary>An app's containers on the account's nodes, per step.</summary>
    /// <param name="id">The app.</param>
    /// <param name="from">Start (ISO 8601); default: an hour before <c>to</c>. Rounded down to a multiple of the step.</param>
    /// <param name="to">End (ISO 8601), exclusive; default: now.</param>
    /// <param name="step">Seconds, or a number with s, m, h or d (<c>30s</c>, <c>5m</c>, <c>1h</c>); at least 10 s; default 1 minute.</param>
    /// <param name="format"><c>json</c> or <c>csv</c>; default: by the Accept header, else JSON.</param>
    /// <param name="user">The caller.</param>
    /// <param name="dataSource">The database.</param>
    /// <param name="query">The metrics reader.</param>
    /// <param name="options">Metrics settings.</param>
    /// <param name="time">The clock.</param>
    /// <param name="http">The request.</param>
    /// <param name="ct">Request aborted.</param>
    static Task<Results<Ok<MetricsSeries>, FileContentHttpResult, ValidationProblem, NotFound>> AppMetrics(Guid id, string? from, string? to, string? step, string? format,
        CurrentUser user, NpgsqlDataSource dataSource, MetricsQuery query, IOptions<MetricsOptions> options, TimeProvider time, HttpContext http, CancellationToken ct) =>
        SeriesAsync(new MetricsSubject(MetricsSubject.App, id, user.AccountId), "SELECT 1 FROM a67.apps WHERE id = @id AND account_id = @account",
            from, to, step, format, dataSource, query, options.Value, time, http, ct);

    /// <summary>Every labelled container on a node, per step.</summary>
    /// <param name="id">The node.</param>
    /// <param name="from">Start (ISO 8601); default: an hour before <c>to</c>. Rounded down to a multiple of the step.</param>
    /// <param name="to">End (ISO 8601), exclusive; default: now.</param>
    /// <param name="step">Seconds, or a number with s, m, h or d (<c>30s</c>, <c>5m</c>, <c>1h</c>); at least 10 s; default 1 minute.</param>
    /// <param name="format"><c>json</c> or <c>csv</c>; default: by the Accept header, else JSON.</param>
    /// <param name="user">The caller.</param>
    /// <param name="dataSource">The database.</param>
    /// <param name="query">The metrics reader.</param>
    /// <param name="options">Metrics settings.</param>
    /// <param name="time">The clock.</param>
    /// <param name="http">The request.</param>
    /// <param name="ct">Request aborted.</param>
    static Task<Results<Ok<MetricsSeries>, FileContentHttpResult, ValidationProblem, NotFound>> NodeMetrics(Guid id, string? from, string? to, string? step, string? format,
        CurrentUser user, NpgsqlDataSource dataSource, MetricsQuery query, IOptions<MetricsOptions> options, TimeProvider time, HttpContext http, CancellationToken ct) =>
        SeriesAsync(new MetricsSubject(MetricsSubject.Node, id, user.AccountId), "SELECT 1 FROM a67.nodes WHERE id = @id AND account_id = @account",
            from, to, step, format, dataSource, query, options.Value, time, http, ct);

    static async Task<Results<Ok<MetricsSeries>, FileContentHttpResult, ValidationProblem, NotFound>> SeriesAsync(MetricsSubject subject, string ownership,
        string? from, string? to, string? step, string? format, NpgsqlDataSource dataSource, MetricsQuery query, MetricsOptions options, TimeProvider time,
        HttpContext http, CancellationToken ct)
    {
        var (window, problems) = MetricsWindow.Resolve(from, to, step, time.GetUtcNow(), options);
        if (format is not null && format is not ("json" or "csv"))
        {
            problems["format"] = ["format must be json or csv."];
        }

        if (problems.Count > 0 || window is null)
        {
            return TypedResults.ValidationProblem(problems);
        }

        await using (var owned = dataSource.CreateCommand(ownership))
        {
            owned.Parameters.AddWithValue("id", subject.Id);
            owned.Parameters.AddWithValue("account", subject.AccountId);
            if (await owned.ExecuteScalarAsync(ct) is null)
            {
                return TypedResults.NotFound();
            }
        }

        var points = await query.ReadAsync(subject, window, ct);
        var csv = format == "csv" || (format is null && WantsCsv(http.Request));
        if (csv)
        {
            return TypedResults.File(Encoding.UTF8.GetBytes(ToCsv(points)), $"{CsvContentType}; charset=utf-8; header=present");
        }

        return TypedResults.Ok(new MetricsSeries(subject.Kind, subject.Id, window.From, window.To, window.StepSeconds, window.Source.ToString().ToLowerInvariant(), points));
    }

    // CSV when the client asks for it before (or without) JSON.
    static bool WantsCsv(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        var csv = accept.Where(a => a.MediaType.Equals(CsvContentType, StringComparison.OrdinalIgnoreCase)).Select(a => a.Quality ?? 1).DefaultIfEmpty(-1).Max();
        var json = accept.Where(a => a.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)).Select(a => a.Quality ?? 1).DefaultIfEmpty(-1).Max();
        return csv > 0 && csv >= json;
    }

    /// <summary>RFC 4180: a header row, CRLF line ends, invariant numbers, UTC times (no field needs quoting).</summary>
    public static string ToCsv(IEnumerable<MetricsPoint> points)
    {
        var text = new StringBuilder(CsvHeader).Append("\r\n");
        foreach (var p in points)
        {
            text.Append(CultureInfo.InvariantCulture, $"{MetricsWindow.Iso(p.At)},{p.CpuPercent.Avg:0.###},{p.CpuPercent.Max:0.###},{p.MemoryBytes.Avg},{p.MemoryBytes.Max},")
                .Append(CultureInfo.InvariantCulture, $"{p.NetworkRxBytes},{p.NetworkTxBytes},{p.Restarts},{p.Replicas}\r\n");
        }

        return text.ToString();
    }
}
