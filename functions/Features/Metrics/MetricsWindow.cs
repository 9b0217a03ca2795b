using System.Globalization;
using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Metrics;

/// <summary>Where a metrics request's points come from: raw points, minute buckets or hour buckets.</summary>
public enum MetricsSource
{
    Raw,
    Minute,
    Hour,
}

/// <summary>
/// A checked metrics request: points every <see cref="Step"/> from <see cref="From"/> (rounded down to a multiple of
/// the step since 1970-01-01T00:00Z) until <see cref="To"/>, read from <see cref="Source"/>.
/// </summary>
public sealed partial record MetricsWindow(DateTimeOffset From, DateTimeOffset To, TimeSpan Step, MetricsSource Source)
{
    public static readonly TimeSpan MinStep = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan MaxStep = TimeSpan.FromDays(31);
    public static readonly TimeSpan DefaultRange = TimeSpan.FromHours(1);
    public static readonly TimeSpan DefaultStep = TimeSpan.FromMinutes(1);

    public int StepSeconds => (int)Step.TotalSeconds;

    /// <summary>
    /// Checks <c>from</c>, <c>to</c> (ISO 8601; default: the last hour) and <c>step</c> (seconds, or a number with
    /// <c>s</c>, <c>m</c>, <c>h</c> or <c>d</c>; default 1 minute), and picks the source: hour buckets for whole
    /// hours, minute buckets for whole minutes, raw points otherwise. Returns the problems by parameter instead when
    /// there are any.
    /// </summary>
    public static (MetricsWindow? Window, Dictionary<string, string[]> Problems) Resolve(string? from, string? to, string? step, DateTimeOffset now, MetricsOptions options)
    {
        var problems = new Dictionary<string, string[]>();
        var parsedStep = step is null ? DefaultStep : ParseStep(step);
        var stepValue = parsedStep ?? DefaultStep;
        if (parsedStep is null)
        {
            problems["step"] = ["step must be a whole number of seconds, or a number followed by s, m, h or d (e.g. 30s, 5m, 1h)."];
        }
        else if (stepValue < MinStep || stepValue > MaxStep)
        {
            problems["step"] = [$"step must be at least {MinStep.TotalSeconds:0}s (raw points come once per heartbeat) and at most {MaxStep.TotalDays:0}d."];
        }

        var toValue = now;
        if (to is not null && !TryParseTime(to, out toValue))
        {
            toValue = now;
            problems["to"] = ["to must be an ISO 8601 time with an offset or Z (e.g. 2026-11-23T10:00:00Z)."];
        }

        var fromValue = toValue - DefaultRange;
        if (from is not null && !TryParseTime(from, out fromValue))
        {
            problems["from"] = ["from must be an ISO 8601 time with an offset or Z (e.g. 2026-11-23T09:00:00Z)."];
        }

        if (problems.Count > 0)
        {
            return (null, problems);
        }

        if (fromValue >= toValue)
        {
            problems["from"] = [$"from ({Iso(fromValue)}) must be before to ({Iso(toValue)})."];
            return (null, problems);
        }

        var stepTicks = stepValue.Ticks;
        var aligned = new DateTimeOffset(fromValue.UtcTicks - fromValue.UtcTicks % stepTicks, TimeSpan.Zero);
        var points = (toValue.UtcTicks - aligned.UtcTicks + stepTicks - 1) / stepTicks;
        if (points > options.MaxPoints)
        {
            problems["step"] = [$"from {Iso(fromValue)} to {Iso(toValue)} at a step of {stepValue.TotalSeconds:0}s is {points} points; "
                + $"a request returns at most {options.MaxPoints}: use a longer step or a shorter range."];
            return (null, problems);
        }

        var source = stepTicks % TimeSpan.TicksPerHour == 0 ? MetricsSource.Hour : stepTicks % TimeSpan.TicksPerMinute == 0 ? MetricsSource.Minute : MetricsSource.Raw;
        var (kept, what, coarser) = source switch
        {
            MetricsSource.Raw => (options.RawRetention, "raw points (steps that are not whole minutes)", " or a step of whole minutes"),
            MetricsSource.Minute => (options.MinuteRetention, "minute buckets (steps that are not whole hours)", " or a step of whole hours"),
            _ => (options.HourRetention, "hour buckets", ""),
        };
        if (aligned < now - kept)
        {
            problems["from"] = [$"from ({Iso(fromValue)}) is too far back: {what} are kept {Describe(kept)}, so from must be after {Iso(now - kept + stepValue)}; use a later from{coarser}."];
            return (null, problems);
        }

        return (new MetricsWindow(aligned, toValue, stepValue, source), problems);
    }

    public static TimeSpan? ParseStep(string text)
    {
        var match = StepPattern().Match(text.Trim());
        if (!match.Success || !long.TryParse(match.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000_000)
        {
            return null;
        }

        return match.Groups["unit"].Value switch
        {
            "" or "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
    }

    static bool TryParseTime(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);

    internal static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    static string Describe(TimeSpan span) => span.TotalHours < 48 && span.TotalHours == Math.Floor(span.TotalHours)
        ? $"{span.TotalHours:0} h"
        : span.TotalDays == Math.Floor(span.TotalDays) ? $"{span.TotalDays:0} days" : span.ToString("c", CultureInfo.InvariantCulture);

    [GeneratedRegex("^(?<n>[0-9]{1,9})(?<unit>[smhd]?)$")]
    private static partial Regex StepPattern();
}
