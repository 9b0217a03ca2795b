using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Apps;

/// <summary>
/// Checks a <see cref="ReleaseSpec"/> before anything is stored or sent: every problem is keyed by its JSON path
/// (<c>ports[1].containerPort</c>, <c>resources.memoryMiB</c>, <c>healthCheck.port</c>), as a validation problem.
/// </summary>
/// <remarks>
/// Strings never hold NUL: the kernel cannot pass one in an argument or an environment variable, and jsonb cannot
/// store one, so such a spec would fail late (at the insert, or at the relay) instead of here.
/// </remarks>
public static partial class ReleaseSpecValidation
{
    /// <summary>A release travels whole in one queue message (64 KiB, signed and base64-encoded): half of it for the spec.</summary>
    public const int MaxSpecBytes = 32 * 1024;
    public const int MaxCommandItems = 64;
    public const int MaxArgs = 256;
    public const int MaxItemLength = 4096;
    public const int MaxEnv = 256;
    public const int MaxEnvNameLength = 255;
    public const int MaxEnvValueLength = 8192;
    public const int MaxSecrets = 64;
    public const int MaxPorts = 64;
    public const int MaxConstraints = 32;
    public const int MaxReplicas = 100;
    public const int MaxRolloutStep = 100;
    public const decimal MinCpus = 0.01m;
    public const decimal MaxCpus = 64m;
    public const int MinMemoryMiB = 6;
    public const int MaxMemoryMiB = 1_048_576;
    public const int MinPids = 16;
    public const int MaxPids = 1_000_000;
    public const int MaxRestartRetries = 1000;
    public const int MaxHealthPathLength = 1024;

    /// <summary>
    /// The problems with <paramref name="spec"/> by JSON path; empty when it is valid. Paths are relative to the spec,
    /// or start with <paramref name="prefix"/> (e.g. <c>spec</c>) when the spec is part of a larger body; a problem with
    /// the spec as a whole is keyed <c>body</c> (or the prefix), as malformed JSON is.
    /// </summary>
    public static Dictionary<string, string[]> Validate(ReleaseSpec? spec, string prefix = "")
    {
        var problems = new SpecProblems(prefix);
        if (spec is null)
        {
            problems.Add("", "A release spec is required.");
            return problems.ToDictionary();
        }

        if (!ImageReference.TryParse(spec.Image, out _, out var imageProblem))
        {
            problems.Add("image", imageProblem);
        }

        if (spec.Registry is not null && !RegistryNamePattern().IsMatch(spec.Registry))
        {
            problems.Add("registry", "registry names a stored registry credential: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        CheckStrings(problems, "command", spec.Command, MaxCommandItems, "command replaces the image's entrypoint: give the program and its arguments, or leave command out.", isCommand: true);
        CheckStrings(problems, "args", spec.Args, MaxArgs, "args replaces the image's default arguments: give at least one, or leave args out.", isCommand: false);
        CheckEnv(problems, spec.Env);
        CheckSecrets(problems, spec.Secrets, spec.Env);
        CheckPorts(problems, spec.Ports);
        CheckResources(problems, spec.Resources);
        if (spec.Replicas is < 0 or > MaxReplicas)
        {
            problems.Add("replicas", $"replicas must be between 0 and {MaxReplicas} (0 keeps the app deployed with nothing running).");
        }

        HealthCheckValidation.Check(problems, spec.HealthCheck, spec.Ports);
        CheckRestartPolicy(problems, spec.RestartPolicy);
        CheckConstraints(problems, spec.Constraints);
        CheckRollout(problems, spec.Rollout);
        CheckSize(problems, spec);
        return problems.ToDictionary();
    }

    /// <summary>
    /// A string list that, when given, holds 1 to <paramref name="maxItems"/> items of bounded length without NUL;
    /// when <paramref name="isCommand"/>, the first item names the program and cannot be empty.
    /// </summary>
    internal static void CheckStrings(SpecProblems problems, string path, IReadOnlyList<string>? items, int maxItems, string whenEmpty, bool isCommand)
    {
        if (items is null)
        {
            return;
        }

        if (items.Count == 0 || items.Count > maxItems)
        {
            problems.Add(path, items.Count == 0 ? whenEmpty : $"{Leaf(path)} has at most {maxItems} items.");
            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            var problem = items[i] switch
            {
                null => "must be a string.",
                { Length: > MaxItemLength } => $"is at most {MaxItemLength} characters.",
                var item when item.Contains('\0', StringComparison.Ordinal) => "must not contain NUL characters.",
                "" when i == 0 && isCommand => "names the program to run and cannot be empty.",
                _ => null,
            };
            if (problem is not null)
            {
                problems.Add($"{path}[{i}]", $"{Leaf(path)}[{i}] {problem}");
            }
        }
    }

    static void CheckEnv(SpecProblems problems, IReadOnlyDictionary<string, string>? env)
    {
        if (env is null)
        {
            return;
        }

        if (env.Count > MaxEnv)
        {
            problems.Add("env", $"env has at most {MaxEnv} variables.");
            return;
        }

        foreach (var (name, value) in env)
        {
            if (!EnvNamePattern().IsMatch(name))
            {
                problems.Add("env", $"env: '{Labels.LabelRules.Printable(name)}' is not a variable name: a letter or '_', then letters, digits or '_' (at most {MaxEnvNameLength}).");
            }
            else if (value is null || value.Length > MaxEnvValueLength || value.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add($"env.{name}", $"env.{name} must be a string of at most {MaxEnvValueLength} characters, without NUL.");
            }
        }
    }

    // env var -> secret name; both are environment variable names, and a variable comes from env or a secret, not both.
    static void CheckSecrets(SpecProblems problems, IReadOnlyDictionary<string, string>? secrets, IReadOnlyDictionary<string, string>? env)
    {
        if (secrets is null)
        {
            return;
        }

        if (secrets.Count > MaxSecrets)
        {
            problems.Add("secrets", $"secrets has at most {MaxSecrets} variables.");
            return;
        }

        foreach (var (variable, secret) in secrets)
        {
            if (!EnvNamePattern().IsMatch(variable))
            {
                problems.Add("secrets", $"secrets: '{Labels.LabelRules.Printable(variable)}' is not a variable name: a letter or '_', then letters, digits or '_' (at most {MaxEnvNameLength}).");
            }
            else if (secret is null || !EnvNamePattern().IsMatch(secret))
            {
                problems.Add($"secrets.{variable}", $"secrets.{variable} names one of the app's secrets, and a secret's name is a variable name: a letter or '_', then letters, digits or '_'.");
            }
            else if (env?.ContainsKey(variable) == true)
            {
                problems.Add($"secrets.{variable}", $"{variable} is in env too: a variable takes its value from env or from a secret, not both.");
            }
        }
    }

    static void CheckPorts(SpecProblems problems, IReadOnlyList<ReleasePort>? ports)
    {
        if (ports is null)
        {
            return;
        }

        if (ports.Count > MaxPorts)
        {
            problems.Add("ports", $"ports has at most {MaxPorts} entries.");
            return;
        }

        var containerPorts = new Dictionary<(int, string), int>();
        var hostPorts = new Dictionary<(int, string), int>();
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i] is not { } port)
            {
                problems.Add($"ports[{i}]", $"ports[{i}] must be an object with containerPort, hostPort and protocol.");
                continue;
            }

            var protocol = port.Protocol ?? ReleasePort.Tcp;
            if (protocol is not (ReleasePort.Tcp or ReleasePort.Udp))
            {
                problems.Add($"ports[{i}].protocol", "protocol must be tcp or udp.");
            }

            if (port.ContainerPort is < 1 or > 65535)
            {
                problems.Add($"ports[{i}].containerPort", "containerPort must be between 1 and 65535.");
            }
            else if (!containerPorts.TryAdd((port.ContainerPort, protocol), i))
            {
                problems.Add($"ports[{i}].containerPort", $"containerPort {port.ContainerPort}/{protocol} is listed already, at ports[{containerPorts[(port.ContainerPort, protocol)]}].");
            }

            if (port.HostPort is < 1 or > 65535)
            {
                problems.Add($"ports[{i}].hostPort", "hostPort must be between 1 and 65535, or null for a free port chosen on the node.");
            }
            else if (port.HostPort is { } host && !hostPorts.TryAdd((host, protocol), i))
            {
                problems.Add($"ports[{i}].hostPort", $"hostPort {host}/{protocol} is taken already, by ports[{hostPorts[(host, protocol)]}].");
            }
        }
    }

    static void CheckResources(SpecProblems problems, ReleaseResources? resources)
    {
        if (resources?.Cpus is { } cpus)
        {
            var problem = cpus <= 0 ? "cpus must be more than 0 (leave it out or null for no limit)."
                : cpus < MinCpus ? $"cpus must be at least {MinCpus.ToString(CultureInfo.InvariantCulture)} (Docker's smallest CPU quota)."
                : cpus > MaxCpus ? $"cpus must be at most {MaxCpus.ToString(CultureInfo.InvariantCulture)}."
                : decimal.Round(cpus, 3) != cpus ? "cpus has at most 3 decimal places."
                : null;
            if (problem is not null)
            {
                problems.Add("resources.cpus", problem);
            }
        }

        if (resources?.MemoryMiB is < MinMemoryMiB or > MaxMemoryMiB)
        {
            problems.Add("resources.memoryMiB", $"memoryMiB must be between {MinMemoryMiB} (Docker's minimum) and {MaxMemoryMiB}, or null for no limit.");
        }

        if (resources?.Pids is < MinPids or > MaxPids)
        {
            problems.Add("resources.pids", $"pids must be between {MinPids} and {MaxPids}, or null for the relay's default.");
        }
    }

    static void CheckRestartPolicy(SpecProblems problems, ReleaseRestartPolicy? policy)
    {
        if (policy is null)
        {
            return;
        }

        if (policy.Name is null || !ReleaseRestartPolicy.Names.Contains(policy.Name))
        {
            problems.Add("restartPolicy.name", $"name must be one of {string.Join(", ", ReleaseRestartPolicy.Names)}.");
        }

        if (policy.MaximumRetryCount is < 0 or > MaxRestartRetries)
        {
            problems.Add("restartPolicy.maximumRetryCount", $"maximumRetryCount must be between 0 and {MaxRestartRetries}.");
        }
        else if (policy.MaximumRetryCount != 0 && policy.Name != ReleaseRestartPolicy.OnFailure)
        {
            problems.Add("restartPolicy.maximumRetryCount", "maximumRetryCount applies to the on-failure policy only.");
        }
    }

    static void CheckConstraints(SpecProblems problems, IReadOnlyList<string>? constraints)
    {
        if (constraints is null)
        {
            return;
        }

        if (constraints.Count > MaxConstraints)
        {
            problems.Add("constraints", $"constraints has at most {MaxConstraints} entries.");
            return;
        }

        for (var i = 0; i < constraints.Count; i++)
        {
            if (!PlacementConstraint.TryParse(constraints[i], out _, out var problem))
            {
                problems.Add($"constraints[{i}]", $"constraints[{i}]: {problem}");
            }
        }
    }

    static void CheckRollout(SpecProblems problems, ReleaseRollout? rollout)
    {
        if (rollout is null)
        {
            return;
        }

        if (rollout.MaxSurge is < 0 or > MaxRolloutStep)
        {
            problems.Add("rollout.maxSurge", $"maxSurge must be between 0 and {MaxRolloutStep} replicas.");
        }

        if (rollout.MaxUnavailable is < 0 or > MaxRolloutStep)
        {
            problems.Add("rollout.maxUnavailable", $"maxUnavailable must be between 0 and {MaxRolloutStep} replicas.");
        }

        if (rollout is { MaxSurge: 0, MaxUnavailable: 0 })
        {
            problems.Add("rollout", "maxSurge and maxUnavailable cannot both be 0: a rollout could neither start a new replica nor stop an old one.");
        }
    }

    // Measured as stored: the normalized spec (defaults written out) when it is valid so far.
    static void CheckSize(SpecProblems problems, ReleaseSpec spec)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(problems.Count == 0 ? spec.Normalize() : spec, ReleaseSpecJson.Options).Length;
        if (bytes > MaxSpecBytes)
        {
            problems.Add("", $"The spec is {bytes} bytes as JSON; at most {MaxSpecBytes} (it travels in one queue message).");
        }
    }

    public static bool IsRegistryName(string name) => RegistryNamePattern().IsMatch(name);

    static string Leaf(string path) => path[(path.LastIndexOf('.') + 1)..];

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex RegistryNamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,254}$")]
    private static partial Regex EnvNamePattern();
}
