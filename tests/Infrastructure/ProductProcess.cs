using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Automator67.Tests.Infrastructure;

/// <summary>
/// One real process of ours (the control plane or the relay) started from its build output, with its own
/// environment. Output is captured for assertions; the process is killed on dispose if it is still running.
/// </summary>
public sealed class ProductProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly StringBuilder _stdout = new();
    readonly StringBuilder _stderr = new();

    ProductProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public string Stdout { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string Stderr { get { lock (_stderr) { return _stderr.ToString(); } } }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the control plane (functions/) in Production unless the environment says otherwise.</summary>
    public static ProductProcess StartControlPlane(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        Start("functions", "Automator67.Functions.dll", args, environment);

    public static ProductProcess StartRelay(string[] args, IReadOnlyDictionary<string, string?> environment) =>
        Start("node-relay", "node-relay.dll", args, environment);

    static ProductProcess Start(string project, string assembly, string[] args, IReadOnlyDictionary<string, string?> environment)
    {
        var output = Path.Combine(TestEnvironment.RepositoryRoot, project, "bin", TestEnvironment.Configuration, "net10.0");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = output,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(output, assembly));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // A clean slate: nothing from the developer's shell decides what the product sees.
        foreach (var name in new[] { "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "AZURE_FUNCTIONS_ENVIRONMENT", "ASPNETCORE_URLS", "A67_LOCAL_SETTINGS" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        return new ProductProcess(Process.Start(info) ?? throw new InvalidOperationException($"could not start {assembly}"));
    }

    /// <summary>A TCP port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>Polls until the URL answers (any status) or the process dies; returns false if it died.</summary>
    public async Task<bool> WaitUntilAnsweringAsync(HttpClient http, string url, CancellationToken cancellationToken)
    {
        while (!_process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(url, cancellationToken);
                return true;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100, cancellationToken);
            }
        }

        return false;
    }

    /// <summary>Sends SIGTERM, as a container runtime or systemd does on stop.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }
}
