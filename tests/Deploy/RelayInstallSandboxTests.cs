using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Deploy;

/// <summary>
/// <c>deploy/relay/install.sh</c> for real, as root and without <c>--root</c>: it creates the system user, adds it to
/// the docker group, sets owners and modes, and enrols this host against the real control plane as that user; then
/// the installed unit's own command, user, folder and environment run the relay, and the node turns Ready. All of it
/// happens in a private mount namespace whose /etc, /opt and /var/lib are copies in a temporary folder, so the machine
/// gets no user, no files and no service. (systemd itself is absent here: the unit's sandboxing is checked by
/// <c>systemd-analyze</c> in <see cref="RelayInstallScriptTests"/>.)
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RelayInstallSandboxTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>, IDisposable
{
    // $1: the sandbox, $2: the working folder, then the command. /run/systemd is hidden so that the script never talks
    // to the machine's systemd (on a machine that has one).
    const string EnterSandbox = """
        set -e
        sandbox=$1 workdir=$2
        shift 2
        mount --bind "$sandbox/etc" /etc
        mount --bind "$sandbox/opt" /opt
        mount --bind "$sandbox/var-lib" /var/lib
        if [ -d /run/systemd ]; then mount --bind "$sandbox/empty" /run/systemd; fi
        cd "$workdir"
        exec "$@"
        """;

    readonly string _sandbox = Directory.CreateTempSubdirectory("a67-sandbox-").FullName;

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    Task<Shell.Result> InSandboxAsync(string[] command, CancellationToken ct, IReadOnlyDictionary<string, string?>? environment = null) =>
        Shell.RunAsync("unshare", ["-m", "--propagation", "private", "bash", "-c", EnterSandbox, "sandbox", _sandbox, "/", .. command], ct, environment);

    async Task<string> JoinTokenAsync(ControlPlaneFixture.Session user, string name)
    {
        using var response = await cp.SendAsync(HttpMethod.Post, "/api/nodes/join-tokens", user.AccessToken, new { name });
        return (await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap())).GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task Install_CreatesTheUserInTheDockerGroup_EnrolsAsIt_AndTheUnitsCommandRunsTheNode()
    {
        Assert.SkipUnless(Environment.UserName == "root" && Shell.Has("unshare") && Shell.Has("runuser"), "needs root, unshare and runuser (a real install, in a mount namespace)");
        var ct = TestEnvironment.TimeCap(TimeSpan.FromSeconds(90));
        Assert.Equal(0, (await Shell.RunAsync("cp", ["-a", "/etc", Path.Combine(_sandbox, "etc")], ct)).ExitCode);
        foreach (var folder in new[] { "opt", "var-lib", "empty" })
        {
            Directory.CreateDirectory(Path.Combine(_sandbox, folder));
        }

        var user = await cp.SignUpAsync();
        var token = await JoinTokenAsync(user, "edge-sandbox");
        var install = await InSandboxAsync(
            [RelayInstallScriptTests.Script, "--from", RelayInstallScriptTests.RelayBuild, "--url", cp.Http.BaseAddress!.ToString(),
                "--docker-socket", new Uri(TestEnvironment.DockerEndpoint).AbsolutePath],
            ct, new Dictionary<string, string?> { ["A67_JOIN_TOKEN"] = token });

        Assert.True(install.ExitCode == 0, install.Output);
        Assert.Contains("created the system user automator67-relay", install.Stdout, StringComparison.Ordinal);
        Assert.Contains("enrolled as node edge-sandbox", install.Stdout, StringComparison.Ordinal);
        Assert.Contains("systemd is not running here", install.Stdout, StringComparison.Ordinal);
        var passwd = Entry(Path.Combine(_sandbox, "etc", "passwd"), "automator67-relay");
        Assert.Equal("/var/lib/automator67-relay", passwd[5]);
        Assert.Equal("/usr/sbin/nologin", passwd[6]);
        var (uid, gid) = (int.Parse(passwd[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(passwd[3], System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(uid, 1, 999); // a system user
        Assert.Contains("automator67-relay", Entry(Path.Combine(_sandbox, "etc", "group"), "docker")[3].Split(','));
        // Owners and modes: the relay owns its state and nothing else; it can read its settings, not change them.
        await AssertOwnerAsync("var-lib/automator67-relay", $"{uid}:{gid} 700", ct);
        await AssertOwnerAsync("var-lib/automator67-relay/node.json", $"{uid}:{gid} 600", ct);
        await AssertOwnerAsync("etc/automator67", $"0:{gid} 750", ct);
        await AssertOwnerAsync("etc/automator67/relay.env", $"0:{gid} 640", ct);
        await AssertOwnerAsync("opt/automator67-relay/node-relay.dll", "0:0 644", ct);
        await AssertOwnerAsync("etc/systemd/system/automator67-relay.service", "0:0 644", ct);

        // What systemd would run: the unit's ExecStart as its User, from its WorkingDirectory, with its environment
        // and the settings file (which wins, as EnvironmentFile= does).
        var unit = Unit.Parse(await File.ReadAllTextAsync(Path.Combine(_sandbox, "etc", "systemd", "system", "automator67-relay.service"), ct));
        var settings = (await File.ReadAllLinesAsync(Path.Combine(_sandbox, "etc", "automator67", "relay.env"), ct)).Where(l => l.Length > 0 && l[0] != '#');
        // systemd also sets HOME, USER and LOGNAME from the user's entry.
        string[] environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", $"HOME={passwd[5]}", "USER=automator67-relay", "LOGNAME=automator67-relay",
            .. unit.EnvironmentAssignments, .. settings];
        var nodeId = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_sandbox, "var-lib", "automator67-relay", "node.json"), ct)).RootElement.GetProperty("nodeId").GetGuid();
        using (var relay = StartInSandbox(unit.Value("WorkingDirectory"), ["runuser", "-u", unit.Value("User"), "--", "env", "-i", .. environment, .. unit.Value("ExecStart").Split(' ')]))
        {
            try
            {
                Assert.Equal("Ready", await WaitForStatusAsync(user, nodeId, "Ready", ct));
            }
            finally
            {
                relay.Kill(entireProcessTree: true);
                await relay.WaitForExitAsync(CancellationToken.None);
            }
        }

        // Again: nothing to do. Then removed, with everything it made.
        var again = await InSandboxAsync([RelayInstallScriptTests.Script, "--from", RelayInstallScriptTests.RelayBuild], ct);
        var purge = await InSandboxAsync([RelayInstallScriptTests.Script, "--uninstall", "--purge"], ct);

        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("is installed already", again.Stdout, StringComparison.Ordinal);
        Assert.Contains("enrolled already as node edge-sandbox", again.Stdout, StringComparison.Ordinal);
        Assert.True(purge.ExitCode == 0, purge.Output);
        Assert.Contains($"DELETE /api/nodes/{nodeId}", purge.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("automator67-relay:", await File.ReadAllTextAsync(Path.Combine(_sandbox, "etc", "passwd"), ct), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_sandbox, "var-lib", "automator67-relay")));
        Assert.False(Directory.Exists(Path.Combine(_sandbox, "opt", "automator67-relay")));
    }

    Process StartInSandbox(string workdir, string[] command)
    {
        var info = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-m", "--propagation", "private", "bash", "-c", EnterSandbox, "sandbox", _sandbox, workdir, .. command])
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start unshare");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    async Task<string?> WaitForStatusAsync(ControlPlaneFixture.Session user, Guid nodeId, string wanted, CancellationToken ct)
    {
        string? status = null;
        while (!ct.IsCancellationRequested)
        {
            using var response = await cp.SendAsync(HttpMethod.Get, $"/api/nodes/{nodeId}", user.AccessToken);
            status = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("status").GetString();
            if (status == wanted)
            {
                break;
            }

            await Task.Delay(200, ct);
        }

        return status;
    }

    async Task AssertOwnerAsync(string path, string expected, CancellationToken ct)
    {
        var stat = await Shell.RunAsync("stat", ["-c", "%u:%g %a", Path.Combine(_sandbox, path)], ct);
        Assert.Equal($"{path}: {expected}", $"{path}: {stat.Stdout.Trim()}");
    }

    static string[] Entry(string file, string name) =>
        File.ReadAllLines(file).Select(line => line.Split(':')).Single(fields => fields[0] == name);
}
