namespace Automator67.Functions.Features.Metrics;

/// <summary>SQL shared by the rollup and the metrics API, so raw points mean the same in both.</summary>
static class MetricsSql
{
    /// <summary>Buckets are aligned to this origin (UTC, a whole day), whatever the session's time zone.</summary>
    public const string Origin = "timestamptz '2000-01-01 00:00:00+00'";

    /// <summary>How far before a window raw points are read to find each container's previous sample.</summary>
    public static readonly TimeSpan Lookback = TimeSpan.FromMinutes(5);

    /// <summary>
    /// CTEs ending in <c>x</c>: the raw points in [<paramref name="from"/>, <paramref name="to"/>) that match
    /// <paramref name="filter"/> (on <c>c</c>, a67.container_stats), each with <c>rx</c>, <c>tx</c> and
    /// <c>restarts</c>: what happened since the container's previous sample. The previous sample is the raw one before
    /// (within <see cref="Lookback"/>), else the last sample of its latest minute bucket. A counter reset (the
    /// container started again, or a counter went down) counts the new counter from zero; a container never seen
    /// before counts its counters since it started. Parameters: <c>@lookback</c>.
    /// </summary>
    public static string Deltas(string filter, string from = "@from", string to = "@to") => $"""
        s AS (
            SELECT c.node_id, c.container_id, c.app, c.release, c.replica, c.at, c.cpu_percent, c.memory_used, c.memory_limit,
                   c.network_rx, c.network_tx, c.restart_count, c.started_at,
                   lag(c.at) OVER w AS prev_at, lag(c.network_rx) OVER w AS prev_rx, lag(c.network_tx) OVER w AS prev_tx,
                   lag(c.restart_count) OVER w AS prev_restarts, lag(c.started_at) OVER w AS prev_started
            FROM a67.container_stats c
            WHERE c.at >= {from} - @lookback AND c.at < {to} AND ({filter})
            WINDOW w AS (PARTITION BY c.node_id, c.container_id ORDER BY c.at)
        ),
        p AS (
            SELECT s.*,
                   coalesce(s.prev_rx, m.last_rx) AS base_rx, coalesce(s.prev_tx, m.last_tx) AS base_tx,
                   coalesce(s.prev_restarts, m.last_restart_count) AS base_restarts,
                   CASE WHEN s.prev_at IS NOT NULL THEN s.prev_started ELSE m.last_started_at END AS base_started
            FROM s LEFT JOIN LATERAL (
                SELECT m.last_rx, m.last_tx, m.last_restart_count, m.last_started_at FROM a67.container_metrics_minute m
                WHERE s.prev_at IS NULL AND m.node_id = s.node_id AND m.container_id = s.container_id AND m.last_at < s.at
                ORDER BY m.bucket DESC LIMIT 1) m ON true
            WHERE s.at >= {from}
        ),
        r AS (
            SELECT p.*, (p.base_rx IS NULL OR p.network_rx < p.base_rx OR p.network_tx < p.base_tx
                         OR (p.started_at IS NOT NULL AND p.base_started IS NOT NULL AND p.started_at <> p.base_started)) AS reset
            FROM p
        ),
        x AS (
            SELECT r.*,
                   CASE WHEN r.reset THEN r.network_rx ELSE r.network_rx - r.base_rx END AS rx,
                   CASE WHEN r.reset THEN r.network_tx ELSE r.network_tx - r.base_tx END AS tx,
                   CASE WHEN r.base_restarts IS NULL THEN r.restart_count
                        ELSE greatest(r.restart_count - r.base_restarts, CASE WHEN r.reset THEN 1 ELSE 0 END) END AS restarts
            FROM r
        )
        """;
}
