using System.Globalization;
using System.Security.Cryptography;

namespace Automator67.Bench;

/// <summary>
/// What one bench run uses. The local stack's addresses come from the environment that <c>./a67 bench</c> exports
/// (the same variables as the tests); the load's shape comes from the command line.
/// </summary>
public sealed record BenchSettings(
    string RunId,
    string Postgres,
    string Storage,
    string Configuration,
    string ControlPlaneAssembly,
    int Concurrency,
    TimeSpan Warmup,
    TimeSpan Duration)
{
    public const string Usage = """
        usage: Automator67.Bench [--concurrency N] [--warmup SECONDS] [--duration SECONDS]
          --concurrency  requests in flight at once, per scenario (default 16, at most 256)
          --warmup       unmeasured load before each scenario (default 3 s, at most 60)
          --duration     measured load per scenario (default 10 s, at most 600)
        environment: A67_POSTGRES, A67_STORAGE (default: the local stack), A67_BENCH_RUN_ID (default: random)
        """;

    /// <summary>The run's database; <c>a67b_</c> keeps it apart from the tests' <c>a67t_</c> databases.</summary>
    public string DatabaseName => $"a67b_{RunId}";

    public string QueuePrefix => $"b{RunId}";

    /// <summary>Reads the command line; returns null with a message when it does not parse.</summary>
    public static BenchSettings? From(string[] args, out string? problem)
    {
        problem = null;
        int concurrency = 16, warmup = 3, duration = 10;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : (int?)null;
            switch (args[i])
            {
                case "--concurrency" when value is >= 1 and <= 256:
                    concurrency = value.Value;
                    break;
                case "--warmup" when value is >= 0 and <= 60:
                    warmup = value.Value;
                    break;
                case "--duration" when value is >= 1 and <= 600:
                    duration = value.Value;
                    break;
                default:
                    problem = args[i] is "--help" or "-h" ? "" : $"'{args[i]} {(i + 1 < args.Length ? args[i + 1] : "")}' is not understood or out of range.";
                    return null;
            }

            i++;
        }

        var root = RepositoryRoot();
        // The bench pairs with the control plane built in its own configuration (Release through ./a67 bench).
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        var runId = Get("A67_BENCH_RUN_ID", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))).ToLowerInvariant();
        if (!runId.All(char.IsAsciiLetterOrDigit) || runId.Length > 24)
        {
            problem = "A67_BENCH_RUN_ID must be at most 24 letters or digits.";
            return null;
        }

        return new BenchSettings(
            runId,
            Get("A67_POSTGRES", "Host=127.0.0.1;Port=54329;Username=postgres;Password=a67-local;Database=automator67"),
            Get("A67_STORAGE", "UseDevelopmentStorage=true"),
            configuration,
            Path.Combine(root, "functions", "bin", configuration, "net10.0", "Automator67.Functions.dll"),
            concurrency,
            TimeSpan.FromSeconds(warmup),
            TimeSpan.FromSeconds(duration));
    }

    static string Get(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

    static string RepositoryRoot()
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
