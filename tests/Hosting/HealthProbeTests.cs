using System.Globalization;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Hosting;

/// <summary><c>Automator67.Functions healthcheck</c>, the container image's HEALTHCHECK: exit 0 only when this instance's /healthz answers.</summary>
public sealed class HealthProbeTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>
{
    static async Task<(int ExitCode, string Output)> ProbeAsync(int port, string bindAddress = "0.0.0.0")
    {
        await using var probe = ProductProcess.StartControlPlane(new Dictionary<string, string?>
        {
            ["ControlPlane__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["ControlPlane__BindAddress"] = bindAddress,
        }, "healthcheck");
        var exitCode = await probe.WaitForExitAsync(TestEnvironment.TimeCap());
        return (exitCode, (probe.Stdout + probe.Stderr).Trim());
    }

    [Fact]
    public async Task Healthcheck_Exits0_WhenTheInstanceOnItsPortAnswers()
    {
        var port = cp.Http.BaseAddress!.Port;

        var (exitCode, output) = await ProbeAsync(port);

        Assert.Equal(0, exitCode);
        Assert.Equal($"healthy: http://127.0.0.1:{port}/healthz answered 200", output);
    }

    [Fact]
    public async Task Healthcheck_Exits1_WithOneLine_WhenNothingAnswers()
    {
        var port = ProductProcess.FreePort();

        var (exitCode, output) = await ProbeAsync(port, "127.0.0.1");

        Assert.Equal(1, exitCode);
        Assert.StartsWith($"unhealthy: http://127.0.0.1:{port}/healthz did not answer (", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n'));
    }
}
