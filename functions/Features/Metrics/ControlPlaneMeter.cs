using System.Diagnostics.Metrics;

namespace Automator67.Functions.Features.Metrics;

/// <summary>
/// The control plane's own .NET meter, exported at <c>/metrics</c> with every meter named <c>Automator67.*</c>. Sweeps
/// record how long each pass took with <see cref="RecordSweep"/>.
/// </summary>
public static class ControlPlaneMeter
{
    public const string Name = "Automator67.ControlPlane";

    public static readonly Meter Meter = new(Name);

    static readonly Histogram<double> SweepDuration = Meter.CreateHistogram<double>("a67.sweep.duration", "s", "How long one pass of a sweep took.");

    /// <summary>Records one pass of <paramref name="sweep"/> (e.g. <c>health</c>, <c>reconcile</c>, <c>metrics-retention</c>).</summary>
    public static void RecordSweep(string sweep, TimeSpan duration) =>
        SweepDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("sweep", sweep));
}
