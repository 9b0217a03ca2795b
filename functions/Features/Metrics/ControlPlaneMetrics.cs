using Automator67.Contracts.Queues;
using Automator67.Functions.Queues;
using Azure;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Npgsql;
using Prometheus;

namespace Automator67.Functions.Features.Metrics;

/// <summary>
/// The control plane's own metrics in the Prometheus text format: operations by kind and status, step retries, the relay
/// queues' depth and age, each node's heartbeat age, and every .NET meter named <c>Automator67.*</c> (sweep durations).
/// What comes from the database and the queues is read at scrape time, at most once per
/// <see cref="MetricsOptions.ScrapeCacheTime"/>, and at most <see cref="MetricsOptions.MaxQueuesPerScrape"/> node queues
/// per scrape (the next ones at the next scrape), so a scrape stays cheap.
/// </summary>
public sealed partial class ControlPlaneMetrics : IDisposable
{
    const int ProbeConcurrency = 8;
    static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    readonly Gauge _operations;
    readonly Counter _retries;
    readonly Gauge _queueMessages;
    readonly Gauge _queueAge;
    readonly Gauge _heartbeatAge;
    readonly Gauge _scrapeDuration;
    readonly MeterBridge _meters;
    readonly SemaphoreSlim _refreshing = new(1, 1);
    readonly HashSet<(string Kind, string Status)> _operationLabels = [];
    readonly HashSet<string> _nodeLabels = [];
    readonly HashSet<string> _queueLabels = [];
    readonly NpgsqlDataSource _dataSource;
    readonly QueueServiceClient _queues;
    readonly string _prefix;
    readonly MetricsOptions _options;
    readonly TimeProvider _time;
    readonly ILogger<ControlPlaneMetrics> _logger;
    DateTimeOffset _refreshedAt = DateTimeOffset.MinValue;
    int _queueOffset;

    public ControlPlaneMetrics(NpgsqlDataSource dataSource, QueueServiceClient queues, IOptions<QueueOptions> queueOptions, IOptions<MetricsOptions> options,
        TimeProvider time, ILogger<ControlPlaneMetrics> logger)
    {
        (_dataSource, _queues, _prefix, _options, _time, _logger) = (dataSource, queues, queueOptions.Value.Prefix, options.Value, time, logger);
        var factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        _operations = factory.CreateGauge("a67_operations", "Operations by kind and status (all kept in the database).", "kind", "status");
        _retries = factory.CreateCounter("a67_operation_step_retries_total", "Step retries scheduled, by step (operation history 'retry-scheduled'), across every control-plane process.", "step");
        _queueMessages = factory.CreateGauge("a67_queue_messages", "Approximate number of messages waiting in a relay queue.", "queue");
        _queueAge = factory.CreateGauge("a67_queue_oldest_message_age_seconds", "Age of the message at the front of a relay queue (0 when empty).", "queue");
        _heartbeatAge = factory.CreateGauge("a67_node_heartbeat_age_seconds", "Seconds since each node's last heartbeat.", "node");
        _scrapeDuration = factory.CreateGauge("a67_metrics_refresh_duration_seconds", "How long the last refresh of these metrics from the database and queues took.");
        _meters = new MeterBridge(_registry);
    }

    /// <summary>Writes every family in the text format (version 0.0.4).</summary>
    public async Task<byte[]> ScrapeAsync(CancellationToken ct)
    {
        await RefreshAsync(ct);
        using var buffer = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(buffer, ct);
        return buffer.ToArray();
    }

    async Task RefreshAsync(CancellationToken ct)
    {
        await _refreshing.WaitAsync(ct);
        try
        {
            var now = _time.GetUtcNow();
            if (now - _refreshedAt < _options.ScrapeCacheTime)
            {
                return;
            }

            var started = _time.GetTimestamp();
            await ReadOperationsAsync(ct);
            var nodes = await ReadNodesAsync(now, ct);
            await ProbeQueuesAsync(nodes, ct);
            _scrapeDuration.Set(_time.GetElapsedTime(started).TotalSeconds);
            _refreshedAt = now;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    async Task ReadOperationsAsync(CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT 'op', kind, status, count(*) FROM a67.operations GROUP BY kind, status
            UNION ALL
            SELECT 'retry', coalesce(step, ''), '', count(*) FROM a67.operation_history WHERE type = 'retry-scheduled' GROUP BY step
            """);
        var seen = new HashSet<(string Kind, string Status)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (reader.GetString(0) == "op")
            {
                var labels = (reader.GetString(1), reader.GetString(2));
                seen.Add(labels);
                _operationLabels.Add(labels);
                _operations.WithLabels(labels.Item1, labels.Item2).Set(reader.GetInt64(3));
            }
            else
            {
                _retries.WithLabels(reader.GetString(1)).IncTo(reader.GetInt64(3));
            }
        }

        // A kind and status with none left reads 0, not its last count.
        foreach (var gone in _operationLabels.Except(seen))
        {
            _operations.WithLabels(gone.Kind, gone.Status).Set(0);
        }
    }

    async Task<List<Guid>> ReadNodesAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand("SELECT id, last_heartbeat_at FROM a67.nodes ORDER BY id");
        var nodes = new List<Guid>();
        var seen = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetGuid(0);
            nodes.Add(id);
            if (!reader.IsDBNull(1))
            {
                var label = id.ToString();
                seen.Add(label);
                _heartbeatAge.WithLabels(label).Set(Math.Max(0, (now - reader.GetFieldValue<DateTimeOffset>(1)).TotalSeconds));
            }
        }

        foreach (var gone in _nodeLabels.Except(seen).ToList())
        {
            _heartbeatAge.RemoveLabelled(gone);
            _nodeLabels.Remove(gone);
        }

        _nodeLabels.UnionWith(seen);
        return nodes;
    }

    async Task ProbeQueuesAsync(List<Guid> nodes, CancellationToken ct)
    {
        var events = QueueNames.RelayEvents(_prefix);
        List<string> names = [events, $"{events}-poison"];
        if (nodes.Count > 0 && _options.MaxQueuesPerScrape > 0)
        {
            var take = Math.Min(nodes.Count, _options.MaxQueuesPerScrape);
            var offset = _queueOffset % nodes.Count;
            names.AddRange(Enumerable.Range(0, take).Select(i => QueueNames.NodeCommands(_prefix, nodes[(offset + i) % nodes.Count])));
            _queueOffset = (offset + take) % nodes.Count;
        }

        var now = _time.GetUtcNow();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = ProbeConcurrency, CancellationToken = ct }, async (name, token) =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(ProbeTimeout);
            try
            {
                var queue = _queues.GetQueueClient(name);
                var properties = await queue.GetPropertiesAsync(timeout.Token);
                var count = properties.Value.ApproximateMessagesCount;
                var age = 0.0;
                if (count > 0 && (await queue.PeekMessageAsync(timeout.Token)).Value is { InsertedOn: { } inserted })
                {
                    age = Math.Max(0, (now - inserted).TotalSeconds);
                }

                lock (_queueLabels)
                {
                    _queueLabels.Add(name);
                    _queueMessages.WithLabels(name).Set(count);
                    _queueAge.WithLabels(name).Set(age);
                }
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                lock (_queueLabels)
                {
                    if (_queueLabels.Remove(name))
                    {
                        _queueMessages.RemoveLabelled(name);
                        _queueAge.RemoveLabelled(name);
                    }
                }
            }
            catch (Exception ex) when (ex is RequestFailedException or OperationCanceledException && !token.IsCancellationRequested)
            {
                // The last value stays: a slow or unreachable queue service must not fail the scrape.
                LogProbeFailed(name, ex.Message);
            }
        });
    }

    public void Dispose()
    {
        _meters.Dispose();
        _refreshing.Dispose();
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Metrics: queue {Queue} could not be probed: {Reason}")]
    partial void LogProbeFailed(string queue, string reason);
}
