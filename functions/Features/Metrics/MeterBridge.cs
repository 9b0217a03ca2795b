using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Prometheus;

namespace Automator67.Functions.Features.Metrics;

/// <summary>
/// Publishes the histograms and counters of .NET meters named <c>Automator67.*</c> in a prometheus-net registry, named
/// the Prometheus way: <c>a67.sweep.duration</c> with unit <c>s</c> becomes <c>a67_sweep_duration_seconds</c>, a
/// counter gets <c>_total</c>; tags become labels.
/// </summary>
/// <remarks>
/// prometheus-net's own MeterAdapter (8.2.1) connects to the instruments here but never receives a measurement on
/// .NET 10 (checked with a bare console program), so this small listener does the same job for our meters.
/// </remarks>
public sealed class MeterBridge : IDisposable
{
    public const string MeterPrefix = "Automator67.";

    readonly MeterListener _listener = new();
    readonly MetricFactory _factory;
    readonly ConcurrentDictionary<Instrument, Collector> _collectors = new();

    public MeterBridge(CollectorRegistry registry)
    {
        _factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith(MeterPrefix, StringComparison.Ordinal) && instrument is Histogram<double> or Histogram<long> or Counter<long> or Counter<double>)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var sorted = tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).ToArray();
        var labels = sorted.Select(t => Name(t.Key)).ToArray();
        var values = sorted.Select(t => t.Value?.ToString() ?? "").ToArray();
        var collector = _collectors.GetOrAdd(instrument, i => i is Histogram<double> or Histogram<long>
            ? _factory.CreateHistogram(PrometheusName(i), Help(i), labels)
            : _factory.CreateCounter(PrometheusName(i) + "_total", Help(i), labels));
        try
        {
            if (collector is Histogram histogram)
            {
                histogram.WithLabels(values).Observe(value);
            }
            else if (collector is Counter counter)
            {
                counter.WithLabels(values).Inc(value);
            }
        }
        catch (ArgumentException)
        {
            // Another set of tag names than the instrument's first measurement: a recording must never throw.
        }
    }

    static string PrometheusName(Instrument instrument)
    {
        var unit = instrument.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            null or "" => "",
            var other => "_" + Name(other),
        };
        var name = Name(instrument.Name);
        return name.EndsWith(unit, StringComparison.Ordinal) ? name : name + unit;
    }

    static string Help(Instrument instrument) => string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;

    static string Name(string text)
    {
        var name = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? char.ToLowerInvariant(c) : '_');
        }

        return name.Length > 0 && char.IsAsciiDigit(name[0]) ? "_" + name : name.ToString();
    }

    public void Dispose() => _listener.Dispose();
}
