using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.NodeRelay;

/// <summary><c>node-relay enroll</c> as a user runs it: the real relay process, the real control plane, the real Docker Engine.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class EnrollCommandTests(ControlPlaneFixture cp) : IClassFixture<ControlPlaneFixture>, IDisposable
{
    readonly string _stateDirectory = Path.Combine(Directory.CreateTempSubdirectory("a67-relay-").FullName, "state");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_stateDirectory)!, recursive: true);

    async Task<string> JoinTokenAsync(ControlPlaneFixture.Session user)
    {
        using var response = await cp.SendAsync(HttpMethod.Post, "/api/nodes/join-tokens", user.AccessToken, new { name = "local-docker" });
        return (await response.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap())).GetProperty("token").GetString()!;
    }

    async Task<(int ExitCode, string Stdout, string Stderr)> EnrollAsync(string token)
    {
        await using var relay = ProductProcess.StartRelay(["enroll", "--url", cp.Http.BaseAddress!.ToString(), "--token", token], new Dictionary<string, string?>
        {
            ["Relay__StateDirectory"] = _stateDirectory,
            ["Relay__DockerEndpoint"] = TestEnvironment.DockerEndpoint,
        });
        var exit = await relay.WaitForExitAsync(TestEnvironment.TimeCap());
        return (exit, relay.Stdout, relay.Stderr.Trim());
    }

    [Fact]
    public async Task Enroll_KeepsTheNodesIdentityInAPrivateStateFile_AndTheNodeAppears()
    {
        var user = await cp.SignUpAsync();

        var (exit, stdout, stderr) = await EnrollAsync(await JoinTokenAsync(user));

        Assert.True(exit == 0, stderr);
        Assert.Contains("enrolled as node local-docker", stdout, StringComparison.Ordinal);
        var stateFile = Path.Combine(_stateDirectory, "node.json");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stateFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_stateDirectory));
        using var state = JsonDocument.Parse(await File.ReadAllTextAsync(stateFile, TestEnvironment.TimeCap()));
        var nodeId = state.RootElement.GetProperty("nodeId").GetGuid();
        Assert.False(string.IsNullOrEmpty(state.RootElement.GetProperty("privateKey").GetString()));
        using var node = await cp.SendAsync(HttpMethod.Get, $"/api/nodes/{nodeId}", user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, node.StatusCode);
        var view = await node.Content.ReadFromJsonAsync<JsonElement>(TestEnvironment.TimeCap());
        Assert.Equal("local-docker", view.GetProperty("name").GetString());
        Assert.Matches(@"^\d+\.\d+", view.GetProperty("facts").GetProperty("dockerVersion").GetString());
        // The private key stayed on the host: the control plane holds only the public half.
        await using var stored = cp.Database.DataSource.CreateCommand("SELECT public_key FROM a67.nodes WHERE id = @id");
        stored.Parameters.AddWithValue("id", nodeId);
        var publicKey = (byte[])(await stored.ExecuteScalarAsync(TestEnvironment.TimeCap()))!;
        using var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(state.RootElement.GetProperty("privateKey").GetString()!), out _);
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), publicKey);
    }

    [Fact]
    public async Task Enroll_Exits2_WithOneLine_WhenAlreadyEnrolledOrTheTokenIsSpent()
    {
        var user = await cp.SignUpAsync();
        var token = await JoinTokenAsync(user);
        Assert.Equal(0, (await EnrollAsync(token)).ExitCode);

        var (again, _, againError) = await EnrollAsync(await JoinTokenAsync(user));
        Directory.Delete(_stateDirectory, recursive: true);
        var (spent, _, spentError) = await EnrollAsync(token);

        Assert.Equal(2, again);
        Assert.StartsWith("node-relay: this relay is enrolled already, as node local-docker", againError, StringComparison.Ordinal);
        Assert.Equal(2, spent);
        Assert.Equal("node-relay: the control plane refused the enrolment: The join token has been used already; create a new one.", spentError);
        Assert.False(File.Exists(Path.Combine(_stateDirectory, "node.json")));
    }

    [Fact]
    public async Task Enroll_Exits2_WithOneLine_WhenTheControlPlaneIsUnreachable()
    {
        var port = ProductProcess.FreePort();
        await using var relay = ProductProcess.StartRelay(["enroll", "--url", $"http://127.0.0.1:{port}", "--token", "a67_join_whatever"], new Dictionary<string, string?>
        {
            ["Relay__StateDirectory"] = _stateDirectory,
            ["Relay__DockerEndpoint"] = TestEnvironment.DockerEndpoint,
        });

        Assert.Equal(2, await relay.WaitForExitAsync(TestEnvironment.TimeCap()));
        Assert.StartsWith($"node-relay: cannot reach the control plane at http://127.0.0.1:{port}/", relay.Stderr, StringComparison.Ordinal);
        Assert.Single(relay.Stderr.Trim().Split('\n'));
    }
}
