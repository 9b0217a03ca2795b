using System.Net;
using System.Net.Sockets;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Hosting;

/// <summary>A start that cannot work stops at once with one line naming the problem and the fix, and a non-zero exit.</summary>
public sealed class StartupRefusalTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("a67-start-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static async Task<(int ExitCode, string Stderr)> RunToExitAsync(Dictionary<string, string?> environment)
    {
        var ct = TestEnvironment.TimeCap();
        await using var process = ProductProcess.StartControlPlane(environment);
        var exitCode = await process.WaitForExitAsync(ct);
        return (exitCode, process.Stderr.Trim());
    }

    static Dictionary<string, string?> Valid() => new()
    {
        ["ConnectionStrings__Postgres"] = TestEnvironment.Postgres,
        ["AzureWebJobsStorage"] = TestEnvironment.Storage,
        ["ControlPlane__Port"] = ProductProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task Start_Exits2_NamingTheSetting_WhenRequiredSettingMissingOutsideDevelopment()
    {
        var settings = Valid();
        settings.Remove("ConnectionStrings__Postgres");

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.Equal(
            "automator67: Missing setting ConnectionStrings__Postgres (the PostgreSQL connection string): set it in local.settings.json Values or as an environment variable.",
            stderr);
    }

    [Fact]
    public async Task Start_Exits2_NamingTheSetting_WhenValueHasWrongType()
    {
        var settings = Valid();
        settings["Orchestrations__WorkerCount"] = "many";

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.Equal("automator67: Setting Orchestrations__WorkerCount has the value 'many', which is not a valid Int32; fix it in local.settings.json or the environment.", stderr);
    }

    [Fact]
    public async Task Start_Exits2_WhenValueOutOfRange()
    {
        var settings = Valid();
        settings["ControlPlane__Port"] = "70000";

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.Equal("automator67: Setting ControlPlane__Port must be a TCP port between 1 and 65535.", stderr);
    }

    [Fact]
    public async Task Start_Exits2_WhenThePingIntervalIsNoCronSchedule()
    {
        var settings = Valid();
        settings["Nodes__PingInterval"] = "00:00:45";

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.True(exitCode == 2, stderr);
        Assert.StartsWith("automator67: Setting Nodes__PingInterval must be a whole number of seconds that divides a minute", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_Exits2_NamingTheSetting_WhenStorageConnectionStringIsNotOne()
    {
        var settings = Valid();
        settings["AzureWebJobsStorage"] = "this is not a connection string";

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("automator67: Setting AzureWebJobsStorage is not a storage connection string;", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', stderr);
    }

    [Fact]
    public async Task Start_Exits2_AskingForOne_WhenConnectionStringAndQueueServiceUriAreBothSet()
    {
        var settings = Valid();
        settings["AzureWebJobsStorage__queueServiceUri"] = "https://sta67dev.queue.core.windows.net";

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.Equal(
            "automator67: Settings AzureWebJobsStorage and AzureWebJobsStorage__queueServiceUri are both set; set only one: the connection string (account key, Azurite) or the queue endpoint (an identity).",
            stderr);
    }

    [Fact]
    public async Task Start_Exits2_WhenCredentialLifetimeOutlivesAUserDelegationKey()
    {
        // Refused before anything asks for a token: no identity endpoint is ever called from a test.
        var settings = Valid();
        settings.Remove("AzureWebJobsStorage");
        settings["AzureWebJobsStorage__queueServiceUri"] = "https://sta67dev.queue.core.windows.net";
        settings["AzureWebJobsStorage__credential"] = "managedidentity";
        settings["Nodes__CredentialLifetime"] = "8.00:00:00";

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("automator67: Setting Nodes__CredentialLifetime must be 7.00:00:00 or less when the queues are reached with an identity", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_Exits2_NamingTheLine_WhenLocalSettingsMalformed()
    {
        var path = Path.Combine(_dir, "local.settings.json");
        await File.WriteAllTextAsync(path, "{ \"Values\": { \"A\": } }", TestContext.Current.CancellationToken);
        var settings = Valid();
        settings["A67_LOCAL_SETTINGS"] = path;

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.Equal($"automator67: {path} is not valid JSON (line 1, position 20); fix it or delete it (local.settings.sample.json shows the shape).", stderr);
    }

    [Fact]
    public async Task Start_ReadsLocalSettings_AndEnvironmentWins()
    {
        var ct = TestEnvironment.TimeCap();
        var path = Path.Combine(_dir, "local.settings.json");
        await File.WriteAllTextAsync(path, """
            { "IsEncrypted": false, "Values": { "Orchestrations__WorkerCount": "oops-from-file", "ControlPlane__Port": "not-a-port" } }
            """, ct);
        var settings = Valid();
        settings["A67_LOCAL_SETTINGS"] = path;

        var (exitCode, stderr) = await RunToExitAsync(settings);

        // The file's worker count is read (and refused); its port lost to the environment's valid one.
        Assert.Equal(2, exitCode);
        Assert.Contains("Orchestrations__WorkerCount has the value 'oops-from-file'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ControlPlane__Port", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_Exits2_SayingSo_WhenPortAlreadyTaken()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var settings = Valid();
        settings["ControlPlane__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (exitCode, stderr) = await RunToExitAsync(settings);

        Assert.Equal(2, exitCode);
        Assert.Contains($"127.0.0.1:{port}", stderr, StringComparison.Ordinal);
        Assert.Contains("address already in use", stderr, StringComparison.Ordinal);
        Assert.Contains("ControlPlane__Port", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', stderr);
    }
}
