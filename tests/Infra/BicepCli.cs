using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Infra;

/// <summary>
/// The Bicep CLI restored by the test project (a <c>PackageDownload</c> of Azure.Bicep.CommandLine.linux-x64; its path is
/// written into this assembly as the <c>BicepCli</c> metadata). <c>A67_BICEP</c> points at another binary.
/// </summary>
public static partial class BicepCli
{
    public static readonly string TemplateFolder = Path.Combine(TestEnvironment.RepositoryRoot, "infra", "bicep");

    public static string BinaryPath => Environment.GetEnvironmentVariable("A67_BICEP") is { Length: > 0 } path
        ? path
        : typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BicepCli").Value!;

    /// <summary>What one run printed; <see cref="Diagnostics"/> are bicep's warning and error lines, whatever the exit code.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public IReadOnlyList<string> Diagnostics => [.. DiagnosticLine().Matches(Stderr + "\n" + Stdout).Select(m => m.Value)];

        public override string ToString() => $"bicep exited {ExitCode}\n--- stderr\n{Stderr}\n--- stdout (first 2000 characters)\n{Stdout[..Math.Min(Stdout.Length, 2000)]}";
    }

    /// <summary>Runs bicep in infra/bicep with the given arguments and environment additions.</summary>
    public static async Task<Result> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, CancellationToken ct)
    {
        var binary = BinaryPath;
        Assert.True(File.Exists(binary), $"Bicep CLI not found at {binary}: restore the test project (dotnet build) or set A67_BICEP.");
        EnsureExecutable(binary);

        var info = new ProcessStartInfo(binary)
        {
            WorkingDirectory = TemplateFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Offline and quiet: no telemetry, no version check against the internet.
        info.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            return new Result(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    // NuGet extracts files without their mode on some systems; the binary must be executable to run.
    static void EnsureExecutable(string binary)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode Execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(binary);
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            File.SetUnixFileMode(binary, mode | Execute);
        }
    }

    // "path(line,col) : Warning rule-name: message" or "… : Error BCP123: message".
    [GeneratedRegex(@"^.*\(\d+,\d+\) : (Warning|Error|Info) .*$", RegexOptions.Multiline)]
    private static partial Regex DiagnosticLine();
}
