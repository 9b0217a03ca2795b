using Automator67.Functions.Features.Metrics;
using Automator67.Tests.Features.Apps;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using static Automator67.Tests.Features.Metrics.MetricsData;

namespace Automator67.Tests.Features.Metrics;

/// <summary>MetricsQuery on synthetic points: the numbers per step, and the same numbers from raw points and from rollups.</summary>
[Collection(nameof(MetricsDatabase))]
public sealed class MetricsQueryTests(MigratedDatabaseFixture fixture)
{
    static readonly DateTimeOffset T0 = new(2030, 1, 3, 10, 0, 0, TimeSpan.Zero);

    readonly FakeTimeProvider _time = new(T0);

    MetricsData Data => new(fixture, _time);

    [Fact]
    public async Task Read_SumsAnAppsContainersPerStep_AndRawAndRollupsAgree()
    {
        var ct = TestEnvironment.TimeCap();
        await Data.ResetAsync(ct);
        var (account, node) = await Data.NodeAsync(ct);
        var app = await Data.AppAsync(account, ct);
        var label = app.ToString("N");
        // Two replicas of the app for 10 minutes, heartbeats every 10 s; a container of another app on the same node.
        await Data.InsertAsync(node, Enumerable.Range(0, 60).SelectMany(i => new[]
        {
            new Point("r0", T0.AddSeconds(10 * i), 2, 100, 1000 * (i + 1), 10 * (i + 1), App: label, Replica: 0),
            new Point("r1", T0.AddSeconds(10 * i), 4, 300, 2000 * (i + 1), 20 * (i + 1), App: label, Replica: 1),
            new Point("x", T0.AddSeconds(10 * i), 50, 5000, 0, 0, App: "other"),
        }), ct);
        _time.SetUtcNow(T0.AddMinutes(12));
        var window = new MetricsWindow(T0, T0.AddMinutes(10), TimeSpan.FromMinutes(1), MetricsSource.Minute);
        var subject = new MetricsSubject(MetricsSubject.App, app, account);

        var raw = await Data.Query.ReadAsync(subject, window, ct);

        Assert.Equal(10, raw.Length);
        Assert.All(raw, p => Assert.Equal(2, p.Replicas));
        Assert.All(raw, p => Assert.Equal(new AvgMax(6, 6), p.CpuPercent));
        Assert.All(raw, p => Assert.Equal(new AvgMaxBytes(400, 400), p.MemoryBytes));
        Assert.All(raw.Skip(1), p => Assert.Equal(6 * 3000, p.NetworkRxBytes));   // 6 heartbeats × (1000 + 2000)
        Assert.Equal(6 * 3000, raw[0].NetworkRxBytes);                            // the first counts since the containers started
        Assert.Equal(T0.AddMinutes(9), raw[^1].At);

        await Data.Job.PassAsync(ct);   // rolls up until 10:11
        var rolled = await Data.Query.ReadAsync(subject, window, ct);
        Assert.Equal(raw, rolled);

        // An hour step reads hour buckets, then minutes, then raw points: the same totals.
        var hourly = await Data.Query.ReadAsync(subject, new MetricsWindow(T0, T0.AddMinutes(10), TimeSpan.FromHours(1), MetricsSource.Hour), ct);
        var one = Assert.Single(hourly);
        Assert.Equal(60 * 3000, one.NetworkRxBytes);
        Assert.Equal(2, one.Replicas);

        var perNode = await Data.Query.ReadAsync(new MetricsSubject(MetricsSubject.Node, node, account), window, ct);
        Assert.All(perNode, p => Assert.Equal(3, p.Replicas));
        Assert.All(perNode, p => Assert.Equal(new AvgMax(56, 56), p.CpuPercent));

        // Another account's nodes never count for the app, even with its label.
        var (_, stranger) = await Data.NodeAsync(ct);
        await Data.InsertAsync(stranger, [new Point("spoof", T0.AddSeconds(5), 99, 99, 0, 0, App: label)], ct);
        Assert.Equal(rolled, await Data.Query.ReadAsync(subject, window, ct));
    }
}
