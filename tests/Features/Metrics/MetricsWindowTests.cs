using Automator67.Functions.Features.Metrics;

namespace Automator67.Tests.Features.Metrics;

public sealed class MetricsWindowTests
{
    static readonly DateTimeOffset Now = new(2030, 1, 3, 10, 17, 23, TimeSpan.Zero);
    static readonly MetricsOptions Options = new();

    [Fact]
    public void Resolve_DefaultsToTheLastHourPerMinute_FromMinuteBuckets()
    {
        var (window, problems) = MetricsWindow.Resolve(null, null, null, Now, Options);

        Assert.Empty(problems);
        Assert.Equal(new MetricsWindow(new DateTimeOffset(2030, 1, 3, 9, 17, 0, TimeSpan.Zero), Now, TimeSpan.FromMinutes(1), MetricsSource.Minute), window);
    }

    [Theory]
    [InlineData("30", 30, MetricsSource.Raw)]
    [InlineData("30s", 30, MetricsSource.Raw)]
    [InlineData("90s", 90, MetricsSource.Raw)]
    [InlineData("5m", 300, MetricsSource.Minute)]
    [InlineData("1h", 3600, MetricsSource.Hour)]
    [InlineData("1d", 86400, MetricsSource.Hour)]
    public void Resolve_PicksTheSourceByStep(string step, int seconds, MetricsSource source)
    {
        var (window, problems) = MetricsWindow.Resolve("2030-01-03T09:00:00Z", "2030-01-03T10:00:00Z", step, Now, Options);

        Assert.Empty(problems);
        Assert.Equal(seconds, window!.StepSeconds);
        Assert.Equal(source, window.Source);
    }

    [Theory]
    [InlineData("2030-01-03T10:00:00Z", "2030-01-03T09:00:00Z", "1m", "from", "must be before to")]
    [InlineData("2030-01-03T09:00:00Z", "2030-01-03T09:00:00Z", "1m", "from", "must be before to")]
    [InlineData("yesterday", null, "1m", "from", "ISO 8601")]
    [InlineData(null, "soon", "1m", "to", "ISO 8601")]
    [InlineData(null, null, "5s", "step", "at least")]
    [InlineData(null, null, "0", "step", "at least 10s")]
    [InlineData(null, null, "1w", "step", "number followed by s, m, h or d")]
    [InlineData(null, null, "-60", "step", "number followed by s, m, h or d")]
    [InlineData("2029-12-01T00:00:00Z", null, "10s", "step", "at most 10000")]
    [InlineData("2030-01-01T00:00:00Z", null, "30s", "from", "raw points (steps that are not whole minutes) are kept 24 h")]
    [InlineData("2029-12-01T00:00:00Z", null, "5m", "from", "minute buckets (steps that are not whole hours) are kept 7 days")]
    [InlineData("2029-01-01T00:00:00Z", null, "1d", "from", "hour buckets are kept 90 days")]
    public void Resolve_RefusesBadInput_NamingTheParameter(string? from, string? to, string step, string parameter, string says)
    {
        var (window, problems) = MetricsWindow.Resolve(from, to, step, Now, Options);

        Assert.Null(window);
        Assert.Contains(says, Assert.Single(problems[parameter]), StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_CapsThePoints_AndSaysHowMany()
    {
        var (_, problems) = MetricsWindow.Resolve("2030-01-01T10:00:00Z", "2030-01-03T10:00:00Z", "10s", Now, Options);

        Assert.Equal("from 2030-01-01T10:00:00Z to 2030-01-03T10:00:00Z at a step of 10s is 17280 points; a request returns at most 10000: use a longer step or a shorter range.",
            Assert.Single(problems["step"]), StringComparer.Ordinal);
    }
}
