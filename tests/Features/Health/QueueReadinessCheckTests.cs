using Automator67.Functions.Features.Health;
using Automator67.Functions.Queues;
using Automator67.Tests.Infrastructure;
using Azure.Storage.Queues;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Features.Health;

public sealed class QueueReadinessCheckTests(QueueFixture queues) : IClassFixture<QueueFixture>
{
    [Fact]
    public async Task CheckHealthAsync_IsHealthy_AndCreatesEventsQueue_WhenAzuriteAnswers()
    {
        var ct = TestEnvironment.TimeCap();
        var check = new QueueReadinessCheck(queues.Service, Options.Create(new QueueOptions { Prefix = queues.Prefix }));

        var result = await check.CheckHealthAsync(new HealthCheckContext(), ct);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.True((await queues.Service.GetQueueClient($"{queues.Prefix}-relay-events").ExistsAsync(ct)).Value);
    }

    [Fact]
    public async Task CheckHealthAsync_IsUnhealthy_WithReason_WhenQueueServiceUnreachable()
    {
        var ct = TestEnvironment.TimeCap();
        var port = ProductProcess.FreePort();
        var options = new QueueClientOptions();
        options.Retry.MaxRetries = 0;
        var service = new QueueServiceClient(new Uri($"http://127.0.0.1:{port}/devstoreaccount1"), options);
        var check = new QueueReadinessCheck(service, Options.Create(new QueueOptions { Prefix = queues.Prefix }));

        var result = await check.CheckHealthAsync(new HealthCheckContext(), ct);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("queue service unreachable", result.Description, StringComparison.Ordinal);
    }
}
