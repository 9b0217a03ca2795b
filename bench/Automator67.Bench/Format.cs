using System.Globalization;

namespace Automator67.Bench;

/// <summary>How the reports write numbers: invariant culture, about three significant figures, "-" for what is unknown.</summary>
public static class Format
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Line(FormattableString text) => Console.WriteLine(text.ToString(Invariant));

    /// <summary>Three significant figures or so, whatever the magnitude.</summary>
    public static string Ms(double ms) => !double.IsFinite(ms) ? "-" : ms.ToString(ms < 1 ? "0.000" : ms < 10 ? "0.00" : ms < 100 ? "0.0" : "0", Invariant);

    /// <summary>Events per second for one event of <paramref name="ms"/> milliseconds.</summary>
    public static string Rate(double ms) => ms > 0 ? PerSecond(1000 / ms) : "-";

    public static string PerSecond(double rate) => double.IsFinite(rate) ? rate.ToString(rate < 100 ? "0.0" : "#,0", Invariant) : "-";

    public static string Percent(double share) => double.IsFinite(share) ? (share * 100).ToString("0", Invariant) + "%" : "-";

    /// <summary>A percentage that is often below 1 (a relay at rest): one decimal.</summary>
    public static string FinePercent(double percent) => double.IsFinite(percent) ? percent.ToString("0.0", Invariant) + "%" : "-";

    public static string Count(int n) => n.ToString("#,0", Invariant);

    public static string X(double ratio) => !double.IsFinite(ratio) ? "-" : ratio.ToString(ratio < 10 ? "0.00" : "0.0", Invariant) + "×";

    /// <summary>A line of a child process's log, cut to a readable length.</summary>
    public static string Shorten(string line, int length = 400) => line.Length > length ? line[..length] + " …" : line;
}
