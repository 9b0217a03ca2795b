using Automator67.NodeRelay;
using Automator67.NodeRelay.Docker;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.NodeRelay;

public sealed class DockerEngineTests
{
    [Fact]
    public async Task ReadHostFactsAsync_ReportsTheRealEngine()
    {
        using var engine = new DockerEngine(Options.Create(new RelayOptions { DockerEndpoint = TestEnvironment.DockerEndpoint }));

        var facts = await engine.ReadHostFactsAsync(TestEnvironment.TimeCap());

        Assert.Matches(@"^\d+\.\d+", facts.DockerVersion);
        Assert.Matches(@"^1\.\d+$", facts.DockerApiVersion);
        Assert.True(facts.Cpus >= 1);
        Assert.True(facts.MemoryBytes > 64L * 1024 * 1024);
        Assert.False(string.IsNullOrWhiteSpace(facts.Hostname));
        Assert.False(string.IsNullOrWhiteSpace(facts.OperatingSystem));
        Assert.False(string.IsNullOrWhiteSpace(facts.Architecture));
    }

    [Fact]
    public async Task FactsCommand_PrintsJson_FromTheRealEngine()
    {
        var ct = TestEnvironment.TimeCap();
        await using var relay = ProductProcess.StartRelay(["facts"], new Dictionary<string, string?> { ["Relay__DockerEndpoint"] = TestEnvironment.DockerEndpoint });

        Assert.Equal(0, await relay.WaitForExitAsync(ct));
        using var json = System.Text.Json.JsonDocument.Parse(relay.Stdout);
        Assert.True(json.RootElement.GetProperty("cpus").GetInt32() >= 1);
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("dockerVersion").GetString()));
    }

    [Fact]
    public async Task FactsCommand_Exits2_WithOneLine_WhenEngineUnreachable()
    {
        var ct = TestEnvironment.TimeCap();
        var socket = Path.Combine(Path.GetTempPath(), $"a67-no-docker-{TestEnvironment.RunId}.sock");
        await using var relay = ProductProcess.StartRelay(["facts"], new Dictionary<string, string?> { ["Relay__DockerEndpoint"] = $"unix://{socket}" });

        Assert.Equal(2, await relay.WaitForExitAsync(ct));
        Assert.StartsWith($"node-relay: cannot reach the Docker Engine at unix://{socket}", relay.Stderr, StringComparison.Ordinal);
        Assert.Single(relay.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task UnknownCommand_Exits2_WithOneLine()
    {
        var ct = TestEnvironment.TimeCap();
        await using var relay = ProductProcess.StartRelay(["frobnicate"], new Dictionary<string, string?>());

        Assert.Equal(2, await relay.WaitForExitAsync(ct));
        Assert.Equal("node-relay: unknown command 'frobnicate'; run 'node-relay help' for the list.", relay.Stderr.Trim());
    }

    [Fact]
    public async Task Version_PrintsTheReleaseNumber()
    {
        var ct = TestEnvironment.TimeCap();
        await using var relay = ProductProcess.StartRelay(["version"], new Dictionary<string, string?>());

        Assert.Equal(0, await relay.WaitForExitAsync(ct));
        Assert.Matches(@"^node-relay \d+\.\d+\.\d+", relay.Stdout.Trim());
    }
}
