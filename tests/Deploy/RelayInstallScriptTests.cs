using System.Text.RegularExpressions;
using Automator67.Hosting;
using Automator67.NodeRelay;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Deploy;

/// <summary>
/// <c>deploy/relay/install.sh</c> and its unit, installed into a folder with <c>--root</c> (no user, no systemd): the
/// files, their modes, what the unit says, and that running it again, upgrading and uninstalling do what they claim.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class RelayInstallScriptTests : IDisposable
{
    const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    const UnixFileMode Mode0750 = Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
    const UnixFileMode Mode0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

    readonly string _root = Directory.CreateTempSubdirectory("a67-install-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    internal static string Script => Path.Combine(TestEnvironment.RepositoryRoot, "deploy", "relay", "install.sh");

    internal static string UnitTemplate => Path.Combine(TestEnvironment.RepositoryRoot, "deploy", "relay", "automator67-relay.service");

    /// <summary>The relay as built for these tests: a framework-dependent publish with its apphost, like the release.</summary>
    internal static string RelayBuild => Path.Combine(TestEnvironment.RepositoryRoot, "node-relay", "bin", TestEnvironment.Configuration, "net10.0");

    Task<Shell.Result> InstallAsync(string[] args, CancellationToken ct) => Shell.RunAsync(Script, ["--root", _root, .. args], ct);

    string Under(string path) => _root + path;

    [Fact]
    public async Task Scripts_PassBashSyntaxCheck_AndShellcheck()
    {
        var ct = TestEnvironment.TimeCap();
        string[] scripts = [Script, Path.Combine(TestEnvironment.RepositoryRoot, "deploy", "relay", "package.sh"), Path.Combine(TestEnvironment.RepositoryRoot, "scripts", "images.sh")];
        foreach (var script in scripts)
        {
            var syntax = await Shell.RunAsync("bash", ["-n", script], ct);
            Assert.True(syntax.ExitCode == 0, $"{script}: {syntax.Output}");
        }

        Assert.SkipUnless(Shell.Has("shellcheck"), "shellcheck is not installed (Debian package shellcheck); only bash -n ran");
        var lint = await Shell.RunAsync("shellcheck", scripts, ct);
        Assert.True(lint.ExitCode == 0, lint.Output);
    }

    [Fact]
    public async Task Install_LaysOutProgramSettingsStateAndUnit_WithTheirModes()
    {
        var ct = TestEnvironment.TimeCap();

        var result = await InstallAsync(["--from", RelayBuild, "--bridge-network", "a67-replicas"], ct);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.True(File.Exists(Under("/opt/automator67-relay/node-relay")));
        Assert.True(File.Exists(Under("/opt/automator67-relay/node-relay.dll")));
        Assert.Equal(Mode0750, File.GetUnixFileMode(Under("/etc/automator67")));
        Assert.Equal(Mode0640, File.GetUnixFileMode(Under("/etc/automator67/relay.env")));
        Assert.Equal(Mode0700, File.GetUnixFileMode(Under("/var/lib/automator67-relay")));
        Assert.Equal(await File.ReadAllTextAsync(UnitTemplate, ct), await File.ReadAllTextAsync(Under("/etc/systemd/system/automator67-relay.service"), ct));
        Assert.Contains("Relay__BridgeNetwork=a67-replicas", await File.ReadAllLinesAsync(Under("/etc/automator67/relay.env"), ct));
        // Not enrolled (no URL, no token): it says how to enrol, and --root leaves systemd alone.
        Assert.Contains("not enrolled yet", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--root: systemd left alone", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Install_AgainChangesNothing_AnUpgradeKeepsThePreviousProgram_AndUninstallKeepsTheIdentityUnlessPurged()
    {
        var ct = TestEnvironment.TimeCap();
        Assert.Equal(0, (await InstallAsync(["--from", RelayBuild], ct)).ExitCode);
        await File.WriteAllTextAsync(Under("/etc/automator67/relay.env"), "Relay__MaxConcurrentCommands=2\n", ct);
        await File.WriteAllTextAsync(Under("/var/lib/automator67-relay/node.json"), """{"nodeId": "0199aaaa-0000-7000-8000-000000000001", "name": "edge-1"}""", ct);

        var again = await InstallAsync(["--from", RelayBuild], ct);

        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("is installed already", again.Stdout, StringComparison.Ordinal);
        Assert.Contains("enrolled already as node edge-1 (0199aaaa-0000-7000-8000-000000000001)", again.Stdout, StringComparison.Ordinal);
        Assert.Equal("Relay__MaxConcurrentCommands=2\n", await File.ReadAllTextAsync(Under("/etc/automator67/relay.env"), ct));
        Assert.False(Directory.Exists(Under("/opt/automator67-relay.previous")));

        // An upgrade: another build of the relay (here: the same files and one more).
        var next = Path.Combine(_root, "next");
        await Shell.RunAsync("cp", ["-a", RelayBuild, next], ct);
        await File.WriteAllTextAsync(Path.Combine(next, "release-notes.txt"), "next", ct);
        var upgrade = await InstallAsync(["--from", next], ct);

        Assert.True(upgrade.ExitCode == 0, upgrade.Output);
        Assert.True(File.Exists(Under("/opt/automator67-relay/release-notes.txt")));
        Assert.False(File.Exists(Under("/opt/automator67-relay.previous/release-notes.txt")));
        Assert.True(File.Exists(Under("/opt/automator67-relay.previous/node-relay.dll")));

        var uninstall = await InstallAsync(["--uninstall"], ct);

        Assert.True(uninstall.ExitCode == 0, uninstall.Output);
        Assert.False(Directory.Exists(Under("/opt/automator67-relay")));
        Assert.False(File.Exists(Under("/etc/systemd/system/automator67-relay.service")));
        Assert.True(File.Exists(Under("/var/lib/automator67-relay/node.json")));
        Assert.Contains("DELETE /api/nodes/0199aaaa-0000-7000-8000-000000000001", uninstall.Stdout, StringComparison.Ordinal);

        var purge = await InstallAsync(["--uninstall", "--purge"], ct);

        Assert.True(purge.ExitCode == 0, purge.Output);
        Assert.False(Directory.Exists(Under("/var/lib/automator67-relay")));
        Assert.False(Directory.Exists(Under("/etc/automator67")));
    }

    [Fact]
    public async Task Install_Refuses_ATarballWhoseChecksumDiffers_AndAFolderWithoutTheRelay()
    {
        var ct = TestEnvironment.TimeCap();
        var tarball = Path.Combine(_root, "relay.tar.gz");
        Assert.Equal(0, (await Shell.RunAsync("tar", ["-czf", tarball, "-C", RelayBuild, "."], ct)).ExitCode);

        var wrongSum = await InstallAsync(["--from", tarball, "--sha256", new string('0', 64)], ct);
        var empty = await InstallAsync(["--from", Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName], ct);

        Assert.Equal(1, wrongSum.ExitCode);
        Assert.Contains("does not have the SHA-256 given with --sha256", wrongSum.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, empty.ExitCode);
        Assert.Contains("holds no node-relay.dll", empty.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Under("/opt/automator67-relay")));
    }

    [Fact]
    public async Task Unit_NamesTheSettingsTheRelayReads_AndRestartsOnlyWhatARestartCanFix()
    {
        var unit = Unit.Parse(await File.ReadAllTextAsync(UnitTemplate, TestEnvironment.TimeCap()));
        var defaults = new RelayOptions();

        // Environment= names are the relay's settings (Relay__<property>), with the relay's own defaults.
        Assert.Equal(defaults.StateDirectory, unit.Environment($"{RelayOptions.Section}__{nameof(RelayOptions.StateDirectory)}"));
        Assert.Equal(defaults.DockerEndpoint, unit.Environment($"{RelayOptions.Section}__{nameof(RelayOptions.DockerEndpoint)}"));
        Assert.Equal("systemd", unit.Environment("Logging__Console__FormatterName"));
        Assert.Equal(["-/etc/automator67/relay.env"], unit.All("EnvironmentFile"));
        Assert.Equal("/opt/automator67-relay/node-relay run", unit.Value("ExecStart"));
        Assert.Equal("simple", unit.Value("Type")); // the relay does not speak sd_notify
        Assert.Equal("on-failure", unit.Value("Restart"));
        Assert.Equal(StartupErrors.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture), unit.Value("RestartPreventExitStatus"));

        // Least privilege: its own user, the docker group for the socket, no capabilities, only its state writable.
        Assert.Equal("automator67-relay", unit.Value("User"));
        Assert.Equal("docker", unit.Value("SupplementaryGroups"));
        Assert.Equal("", unit.Value("CapabilityBoundingSet"));
        Assert.Equal("yes", unit.Value("NoNewPrivileges"));
        Assert.Equal("strict", unit.Value("ProtectSystem"));
        Assert.Equal(defaults.StateDirectory, unit.Value("ReadWritePaths"));
        Assert.Equal("automator67-relay", unit.Value("StateDirectory"));
        Assert.Equal("0700", unit.Value("StateDirectoryMode"));
        Assert.Equal("AF_UNIX AF_INET AF_INET6", unit.Value("RestrictAddressFamilies"));
        Assert.Equal(["yes", "yes"], [unit.Value("ProtectHome"), unit.Value("PrivateTmp")]);
    }

    [Fact]
    public async Task Unit_PassesSystemdAnalyzeVerify_WithoutAWarning_AndItsExposureIsLow()
    {
        var ct = TestEnvironment.TimeCap();
        Assert.SkipUnless(Shell.Has("systemd-analyze") && Shell.Has("unshare"), "systemd-analyze or unshare is missing (Debian packages systemd, util-linux)");
        Assert.SkipUnless(Environment.UserName == "root", "verifying the installed unit needs root (a private mount namespace shows the installed /opt)");
        Assert.Equal(0, (await InstallAsync(["--from", RelayBuild], ct)).ExitCode);
        var unit = Under("/etc/systemd/system/automator67-relay.service");

        // verify checks that ExecStart exists: show the installed /opt in a mount namespace of its own.
        var verify = await Shell.RunAsync("unshare", ["-m", "--propagation", "private", "sh", "-c", "mount --bind \"$1/opt\" /opt && exec systemd-analyze verify \"$2\"", "sh", _root, unit], ct);
        var security = await Shell.RunAsync("systemd-analyze", ["security", "--offline=true", $"--root={_root}", unit], ct);

        Assert.True(verify.ExitCode == 0 && verify.Output.Trim().Length == 0, verify.Output);
        var exposure = ExposureLevel().Match(security.Output);
        Assert.True(exposure.Success, security.Output);
        // 0 is a fully sandboxed unit, 10 an unprotected one; systemd calls below 2 "OK". The socket keeps it above 0.
        Assert.InRange(double.Parse(exposure.Groups["level"].Value, System.Globalization.CultureInfo.InvariantCulture), 0, 2.0);
    }

    [GeneratedRegex(@"Overall exposure level for automator67-relay\.service: (?<level>\d+\.\d+)")]
    private static partial Regex ExposureLevel();
}
