namespace Automator67.Bench;

/// <summary>Latencies in milliseconds, summarised by nearest-rank percentiles (no interpolation between samples).</summary>
public sealed record Timings(int Count, double P50, double P99, double Max)
{
    public static Timings From(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        return sorted.Length == 0
            ? new Timings(0, double.NaN, double.NaN, double.NaN)
            : new Timings(sorted.Length, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted[^1]);
    }

    static double Percentile(double[] sorted, double quantile) => sorted[Math.Max(0, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
}
