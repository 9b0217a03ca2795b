using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// A registry of its own that asks for credentials: a second Debian <c>docker-registry</c> (as scripts/stack.sh runs
/// the shared one) on a free 127.0.0.1 port with htpasswd auth, its storage in a temp folder, holding the sample
/// image v1 as <see cref="Image"/>, pushed there through the Engine with the credentials. The Engine speaks plain
/// HTTP to it (127.0.0.0/8 registries are insecure by default). Stopped and deleted afterwards.
/// </summary>
public sealed class PrivateRegistryFixture : IAsyncLifetime
{
    public const string Username = "a67-test";

    /// <summary>Test-only: guards nothing but this throw-away registry.</summary>
    public const string Password = "a67-registry-test-only-password";

    // bcrypt (the only hash docker-registry takes) of Password, cost 5 so that each request checks it fast. Made with
    // python3 -c "import crypt; print(crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)))";
    // apache2-utils' htpasswd is not installed here.
    const string HtpasswdLine = Username + ":$2b$05$iIGEAPD.iu/LmdHKD25awezLw456OUKzYty0DQKVeU5N79uMzDupm";

    readonly string _root = Directory.CreateTempSubdirectory("a67-registry-").FullName;
    readonly StringBuilder _output = new();
    readonly DockerClient _docker = new DockerClientBuilder().WithEndpoint(new Uri(TestEnvironment.DockerEndpoint)).Build();
    Process? _process;

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public string Registry { get; private set; } = "";

    public string Repository => $"{Registry}/a67/private";

    /// <summary>The sample image v1, only in this registry.</summary>
    public string Image => $"{Repository}:v1";

    public AuthConfig Credentials => new() { Username = Username, Password = Password, ServerAddress = Registry };

    /// <summary>What the registry process wrote.</summary>
    public string Output { get { lock (_output) { return _output.ToString(); } } }

    public async ValueTask InitializeAsync()
    {
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Registry = $"127.0.0.1:{ProductProcess.FreePort().ToString(CultureInfo.InvariantCulture)}";
        var htpasswd = Path.Combine(_root, "htpasswd");
        var config = Path.Combine(_root, "config.yml");
        await File.WriteAllTextAsync(htpasswd, HtpasswdLine + "\n", cap.Token);
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {Path.Combine(_root, "data")}
            http:
              addr: {Registry}
              secret: a67-test-only
            auth:
              htpasswd:
                realm: a67-test
                path: {htpasswd}
            """, cap.Token);

        var info = new ProcessStartInfo("docker-registry") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(config);
        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start docker-registry");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitUntilAskingForCredentialsAsync(cap.Token);
        await PushSampleAsync(cap.Token);
    }

    /// <summary>Removes <see cref="Image"/> from the Engine, so that the next pull of it really pulls.</summary>
    public async Task ForgetImageAsync(CancellationToken ct)
    {
        try
        {
            await _docker.Images.DeleteImageAsync(Image, new ImageDeleteParameters { Force = true }, ct);
        }
        catch (DockerImageNotFoundException)
        {
        }
    }

    async Task WaitUntilAskingForCredentialsAsync(CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited ({_process.ExitCode}): {Output}");
            }

            try
            {
                using var response = await http.GetAsync($"http://{Registry}/v2/", ct);
                if (response.StatusCode != HttpStatusCode.Unauthorized)
                {
                    throw new InvalidOperationException($"the registry at {Registry} answers {(int)response.StatusCode} without credentials; it should ask for them");
                }

                return;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50, ct);
            }
        }
    }

    // Through the Engine, as a user would: the shared registry's v1 tagged for this one, pushed with the credentials.
    async Task PushSampleAsync(CancellationToken ct)
    {
        var sample = $"{TestEnvironment.SampleImage}:v1";
        await _docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = TestEnvironment.SampleImage, Tag = "v1" }, null, new Progress<JSONMessage>(), ct);
        await _docker.Images.TagImageAsync(sample, new ImageTagParameters { RepositoryName = Repository, Tag = "v1" }, ct);
        var errors = new StreamErrors();
        await _docker.Images.PushImageAsync(Repository, new ImagePushParameters { Tag = "v1" }, Credentials, errors, ct);
        await ForgetImageAsync(ct);
        if (errors.Message is { } error)
        {
            throw new InvalidOperationException($"pushing {Image} failed: {error}; registry output: {Output}");
        }
    }

    void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ForgetImageAsync(CancellationToken.None);
        _docker.Dispose();
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        Directory.Delete(_root, recursive: true);
    }

    // The Engine reports a failed push inside the progress stream, not as the answer's status.
    sealed class StreamErrors : IProgress<JSONMessage>
    {
        public string? Message { get; private set; }

        public void Report(JSONMessage value) => Message = value.Error?.Message is { Length: > 0 } message ? message : Message;
    }
}
