using System.Security.Cryptography;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// Where the real parts are. <c>./a67 test</c> exports these from the local stack; the defaults match that stack,
/// so the suite also runs from an IDE once <c>./a67 up</c> has run.
/// </summary>
public static class TestEnvironment
{
    /// <summary>One id per test run; every database, queue and container this run makes carries it.</summary>
    public static readonly string RunId = Environment.GetEnvironmentVariable("A67_TEST_RUN_ID") is { Length: > 0 } id
        ? id.ToLowerInvariant()
        : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    public static string Postgres => Get("A67_POSTGRES", "Host=127.0.0.1;Port=54329;Username=postgres;Password=a67-local;Database=automator67");

    public static string Storage => Get("A67_STORAGE", "UseDevelopmentStorage=true");

    public static string DockerEndpoint => Get("A67_DOCKER_ENDPOINT", "unix:///var/run/docker.sock");

    /// <summary>The sample app pushed by the stack script: tags v1, v2 (healthy) and v3 (never healthy).</summary>
    public static string SampleImage => Get("A67_SAMPLE_IMAGE", "127.0.0.1:5000/a67/sample");

    /// <summary>The repository root (the folder holding Automator67.sln).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Debug or Release: the configuration these tests were built in, so the processes they start match.</summary>
    public static string Configuration { get; } = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>A per-test time cap: a hang fails the test instead of stalling CI.</summary>
    public static CancellationToken TimeCap(TimeSpan? limit = null)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        source.CancelAfter(limit ?? TimeSpan.FromSeconds(30));
        return source.Token;
    }

    static string Get(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

    static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Automator67.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Automator67.sln not found above {AppContext.BaseDirectory}");
    }
}
