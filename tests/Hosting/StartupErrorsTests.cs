using System.Net.Sockets;
using Automator67.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Hosting;

public sealed class StartupErrorsTests
{
    [Fact]
    public void Describe_NamesSettingAndValue_WhenConfigurationValueDoesNotConvert()
    {
        var error = new InvalidOperationException(
            "Failed to convert configuration value 'abc' at 'Orchestrations:WorkerCount' to type 'System.Int32'.",
            new FormatException("abc is not a valid value for Int32."));

        var line = StartupErrors.Describe(error);

        Assert.Equal("Setting Orchestrations__WorkerCount has the value 'abc', which is not a valid Int32; fix it in local.settings.json or the environment.", line);
    }

    [Fact]
    public void Describe_JoinsValidationFailures_OnOneLine()
    {
        var error = new OptionsValidationException("x", typeof(object), ["Missing setting A.", "Setting B must be 1"]);

        Assert.Equal("Missing setting A. Setting B must be 1.", StartupErrors.Describe(error));
    }

    [Fact]
    public void Describe_SaysHowToChoosePort_WhenAddressInUse()
    {
        var error = new IOException("Failed to bind to address http://127.0.0.1:7071: address already in use.",
            new SocketException((int)SocketError.AddressAlreadyInUse));

        var line = StartupErrors.Describe(error);

        Assert.StartsWith("Failed to bind to address http://127.0.0.1:7071: address already in use.", line, StringComparison.Ordinal);
        Assert.Contains("ControlPlane__Port", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_ReturnsNull_ForUnknownExceptions()
    {
        Assert.Null(StartupErrors.Describe(new InvalidOperationException("boom")));
    }

    [Fact]
    public async Task RunAsync_ReturnsExitCode2_AndWritesOneLine_WhenStartupFails()
    {
        var original = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            var exitCode = await StartupErrors.RunAsync("test", () => throw new StartupException("bad thing; fix it"));

            Assert.Equal(StartupErrors.ExitCode, exitCode);
            Assert.Equal("test: bad thing; fix it" + Environment.NewLine, captured.ToString());
        }
        finally
        {
            Console.SetError(original);
        }
    }
}
