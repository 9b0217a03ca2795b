using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Apps;

/// <summary>The <c>healthCheck</c> part of <see cref="ReleaseSpecValidation"/>: each kind takes only the fields it uses.</summary>
internal static partial class HealthCheckValidation
{
    public static void Check(SpecProblems problems, ReleaseHealthCheck? check, IReadOnlyList<ReleasePort>? ports)
    {
        if (check is null)
        {
            return;
        }

        if (check.Kind is not (ReleaseHealthCheck.Http or ReleaseHealthCheck.Tcp or ReleaseHealthCheck.Exec))
        {
            problems.Add("healthCheck.kind", "kind must be http, tcp or exec.");
        }
        else if (check.Kind == ReleaseHealthCheck.Exec)
        {
            if (check.Command is null or { Count: 0 })
            {
                problems.Add("healthCheck.command", "command is required for an exec check: the program and its arguments, run in the container (exit code 0 is healthy).");
            }
            else
            {
                ReleaseSpecValidation.CheckStrings(problems, "healthCheck.command", check.Command, ReleaseSpecValidation.MaxCommandItems, "", isCommand: true);
            }

            NotFor(problems, check.Port, "port", "http and tcp");
            NotFor(problems, check.Path, "path", "http");
        }
        else
        {
            CheckPort(problems, check.Port, ports);
            NotFor(problems, check.Command, "command", "exec");
            if (check.Kind == ReleaseHealthCheck.Tcp)
            {
                NotFor(problems, check.Path, "path", "http");
            }
            else if (check.Path is not null && !PathPattern().IsMatch(check.Path))
            {
                problems.Add("healthCheck.path", $"path must start with '/' and be at most {ReleaseSpecValidation.MaxHealthPathLength} characters, without spaces or control characters.");
            }
        }

        Range(problems, "intervalSeconds", check.IntervalSeconds, 1, 300);
        if (check.TimeoutSeconds is { } timeout)
        {
            Range(problems, "timeoutSeconds", timeout, 1, 60);
        }

        if (check.IntervalSeconds is >= 1 and <= 300 && check.TimeoutSeconds is >= 1 and <= 60 && check.TimeoutSeconds > check.IntervalSeconds)
        {
            problems.Add("healthCheck.timeoutSeconds", "timeoutSeconds must not be longer than intervalSeconds: a probe ends before the next one starts.");
        }

        Range(problems, "retries", check.Retries, 1, 10);
        Range(problems, "startPeriodSeconds", check.StartPeriodSeconds, 0, 600);
    }

    static void CheckPort(SpecProblems problems, int? port, IReadOnlyList<ReleasePort>? ports)
    {
        var exposed = (ports ?? []).Where(p => p is not null && (p.Protocol ?? ReleasePort.Tcp) == ReleasePort.Tcp).Select(p => p.ContainerPort).Distinct().ToList();
        if (port is null)
        {
            problems.Add("healthCheck.port", "port is required for an http or tcp check: one of the app's tcp ports[].containerPort.");
        }
        else if (!exposed.Contains(port.Value))
        {
            problems.Add("healthCheck.port", exposed.Count == 0
                ? $"port {port} is not a port the app exposes: ports has no tcp containerPort."
                : $"port {port} is not a port the app exposes: use one of its tcp containerPorts ({string.Join(", ", exposed)}).");
        }
    }

    static void NotFor(SpecProblems problems, object? value, string field, string kinds)
    {
        if (value is not null)
        {
            problems.Add($"healthCheck.{field}", $"{field} is for {kinds} checks only.");
        }
    }

    static void Range(SpecProblems problems, string field, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            problems.Add($"healthCheck.{field}", $"{field} must be between {min} and {max}.");
        }
    }

    [GeneratedRegex("^/[\\x21-\\x7E]{0,1023}$")]
    private static partial Regex PathPattern();
}
