using System.Globalization;
using Automator67.Functions.Database;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// <c>cpu-above</c> and <c>memory-above</c> over <c>a67.container_stats</c> (one row per container per heartbeat;
/// a container's <c>app</c> is its app's id without dashes). An app is above when one of its containers has been
/// above the threshold for the whole duration: its last sample at or before <c>now - duration</c> and every sample
/// since are above, and its newest sample is at most <see cref="AlertOptions.StatsMaxAge"/> old. Memory % is used of
/// the container's limit. The alert resolves once no container of the app is above any more (a sample at or under
/// the threshold, or no recent samples).
/// </summary>
public sealed class ThresholdEvaluation(IOptions<AlertOptions> options)
{
    sealed record Hot(Guid AppId, string? AppName, Guid NodeId, int Replica, double Lowest, double Latest);

    public async Task<List<Guid>> EvaluateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EvaluatedRule rule, DateTimeOffset now, CancellationToken ct)
    {
        var hot = await AboveAsync(connection, transaction, rule, now, ct);
        HashSet<Guid> open;
        await using (var command = new NpgsqlCommand("SELECT subject_id FROM a67.alerts WHERE rule_id = @rule AND status <> 'resolved'", connection, transaction))
        {
            command.Parameters.AddWithValue("rule", rule.Id);
            open = (await command.ReadAllAsync(reader => reader.GetGuid(0), ct)).ToHashSet();
        }

        var deliveries = new List<Guid>();
        var what = rule.Kind == AlertKinds.CpuAbove ? "CPU" : "memory";
        foreach (var app in open.Where(id => !hot.ContainsKey(id)))
        {
            deliveries.AddRange(await AlertTransitions.ResolveAsync(connection, transaction, rule.AccountId, app, null, rule.Id,
                $"{what} is no longer above {rule.Threshold}% on any replica", now, ct));
        }

        foreach (var h in hot.Values.Where(h => !open.Contains(h.AppId)))
        {
            var message = string.Create(CultureInfo.InvariantCulture,
                $"{what} of app {h.AppName ?? h.AppId.ToString()} above {rule.Threshold}% for {rule.DurationSeconds} s: replica {h.Replica} at {h.Latest:0.#}% (at least {h.Lowest:0.#}% throughout)");
            var detail = new Dictionary<string, object?>
            {
                ["appId"] = h.AppId, ["nodeId"] = h.NodeId, ["replica"] = h.Replica, ["lowest"] = Math.Round(h.Lowest, 2), ["latest"] = Math.Round(h.Latest, 2),
            };
            deliveries.AddRange(await AlertTransitions.FireAsync(connection, transaction, rule, new AlertSubject("app", h.AppId), message, detail, null, now, ct));
        }

        return deliveries;
    }

    /// <summary>The apps above the rule's threshold for its duration, each with its hottest qualifying container.</summary>
    async Task<Dictionary<Guid, Hot>> AboveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EvaluatedRule rule, DateTimeOffset now, CancellationToken ct)
    {
        var maxAge = options.Value.StatsMaxAge;
        var start = now - TimeSpan.FromSeconds(rule.DurationSeconds ?? AlertKinds.MinDurationSeconds);
        await using var command = new NpgsqlCommand("""
            WITH recent AS (
                SELECT cs.app, cs.container_id, cs.node_id, cs.replica, cs.at,
                       CASE WHEN @memory THEN 100.0 * cs.memory_used / NULLIF(cs.memory_limit, 0) ELSE cs.cpu_percent END AS value
                FROM a67.container_stats cs JOIN a67.nodes n ON n.id = cs.node_id
                WHERE n.account_id = @account AND (@app::text IS NULL OR cs.app = @app) AND (@node::uuid IS NULL OR cs.node_id = @node)
                  AND cs.at > @start - @maxAge AND cs.at <= @now
            ), bounds AS (
                SELECT app, container_id, max(at) FILTER (WHERE at <= @start) AS since, max(at) AS latest
                FROM recent GROUP BY app, container_id
            )
            SELECT r.app, r.container_id, (array_agg(r.node_id))[1], (array_agg(r.replica))[1], min(r.value),
                   (array_agg(r.value ORDER BY r.at DESC))[1], (SELECT a.name FROM a67.apps a WHERE a.account_id = @account AND replace(a.id::text, '-', '') = r.app)
            FROM recent r JOIN bounds b ON b.app = r.app AND b.container_id = r.container_id
            WHERE b.since IS NOT NULL AND b.latest >= @now - @maxAge AND r.at >= b.since
            GROUP BY r.app, r.container_id
            HAVING bool_and(coalesce(r.value > @threshold, false))
            """, connection, transaction);
        command.Parameters.AddWithValue("memory", rule.Kind == AlertKinds.MemoryAbove);
        command.Parameters.AddWithValue("account", rule.AccountId);
        command.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Text) { Value = (object?)rule.AppId?.ToString("N") ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("node", NpgsqlDbType.Uuid) { Value = (object?)rule.NodeId ?? DBNull.Value });
        command.Parameters.AddWithValue("start", start);
        command.Parameters.AddWithValue("maxAge", maxAge);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("threshold", rule.Threshold ?? 0);
        var apps = new Dictionary<Guid, Hot>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (!Guid.TryParseExact(reader.GetString(0), "N", out var appId))
            {
                continue; // not a container the control plane placed
            }

            var hot = new Hot(appId, reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetGuid(2), reader.GetInt32(3), reader.GetDouble(4), reader.GetDouble(5));
            if (!apps.TryGetValue(appId, out var known) || hot.Latest > known.Latest)
            {
                apps[appId] = hot;
            }
        }

        return apps;
    }
}
