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
    string RelayAssembly,
    string DockerEndpoint,
    string SampleImage,
    BenchScenario Scenario,
    int Concurrency,
    int Relays,
    int SendersPerRelay,
    IReadOnlyList<int> Sizes,
    TimeSpan Warmup,
    TimeSpan Duration)
{
    public const string Usage = """
        usage: Automator67.Bench [--scenario auth|relay|deploy|sweeps|all] [--concurrency N] [--relays N] [--senders N] [--sizes N,N,...]
                                 [--warmup SECONDS] [--duration SECONDS]
          --scenario     auth (login, /me, /healthz), relay (command round trips through real relays), deploy (deployments
                         over 4 relays beside Docker Swarm, and the engine's ceiling), sweeps (one health and one reconcile
                         pass over 10,000 synthetic nodes and 50,000 replicas, and heartbeat ingestion), or all (default)
          --concurrency  auth: requests in flight at once, per scenario (default 16, at most 256)
          --relays       relay: relays on this host in the second phase; the first has one (default 8, at most 32)
          --senders      relay: closed-loop command senders per relay (default 4, the relay's Relay__MaxConcurrentCommands)
          --sizes        deploy: the replica counts deployed, each by Automator67 and by Swarm (default 1,10,50; each 1-100)
          --warmup       unmeasured load before each scenario (default 3 s, at most 60)
          --duration     measured load per scenario (default 10 s, at most 600)
        environment: A67_POSTGRES, A67_STORAGE, A67_DOCKER_ENDPOINT, A67_SAMPLE_IMAGE (default: the local stack),
          A67_BENCH_RUN_ID (default: random)
        """;

    /// <summary>The label every container of the run carries (the relays add it to what they make); removed by it at the end.</summary>
    public const string RunLabel = "automator67.bench-run";

    /// <summary>The run's database; <c>a67b_</c> keeps it apart from the tests' <c>a67t_</c> databases.</summary>
    public string DatabaseName => $"a67b_{RunId}";

    public string QueuePrefix => $"b{RunId}";

    public bool RunsAuth => Scenario is BenchScenario.All or BenchScenario.Auth;

    public bool RunsRelay => Scenario is BenchScenario.All or BenchScenario.Relay;

    public bool RunsDeploy => Scenario is BenchScenario.All or BenchScenario.Deploy;

    public bool RunsSweeps => Scenario is BenchScenario.All or BenchScenario.Sweeps;

    /// <summary>Reads the command line; returns null with a message when it does not parse.</summary>
    public static BenchSettings? From(string[] args, out string? problem)
    {
        problem = null;
        int concurrency = 16, relays = 8, senders = 4, warmup = 3, duration = 10;
        int[] sizes = [1, 10, 50];
        var scenario = BenchScenario.All;
        for (var i = 0; i < args.Length; i++)
        {
            var text = i + 1 < args.Length ? args[i + 1] : null;
            var value = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : (int?)null;
            switch (args[i])
            {
                case "--scenario" when text is "auth" or "relay" or "deploy" or "sweeps" or "all":
                    scenario = text switch
                    {
                        "auth" => BenchScenario.Auth,
                        "relay" => BenchScenario.Relay,
                        "deploy" => BenchScenario.Deploy,
                        "sweeps" => BenchScenario.Sweeps,
                        _ => BenchScenario.All,
                    };
                    break;
                case "--sizes" when ParseSizes(text) is { } parsedSizes:
                    sizes = parsedSizes;
                    break;
                case "--concurrency" when value is >= 1 and <= 256:
                    concurrency = value.Value;
                    break;
                case "--relays" when value is >= 1 and <= 32:
                    relays = value.Value;
                    break;
                case "--senders" when value is >= 1 and <= 64:
                    senders = value.Value;
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
            Path.Combine(root, "node-relay", "bin", configuration, "net10.0", "node-relay.dll"),
            Get("A67_DOCKER_ENDPOINT", "unix:///var/run/docker.sock"),
            Get("A67_SAMPLE_IMAGE", "127.0.0.1:5000/a67/sample"),
            scenario,
            concurrency,
            relays,
            senders,
            sizes,
            TimeSpan.FromSeconds(warmup),
            TimeSpan.FromSeconds(duration));
    }

    /// <summary>A comma-separated list of replica counts, each 1-100 (the spec's limit), at most 8 of them.</summary>
    static int[]? ParseSizes(string? text)
    {
        var parts = (text ?? "").Split(',');
        var sizes = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 100 ? n : 0).ToArray();
        return sizes.Length is >= 1 and <= 8 && sizes.All(n => n > 0) ? sizes : null;
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

