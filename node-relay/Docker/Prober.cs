using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.NodeRelay.Docker;

/// <summary>
/// <c>probe</c>: asks a replica whether it is healthy, from the relay, within the command's timeout: an HTTP GET or a
/// TCP connect to 127.0.0.1 for a host-network container (the container's own address otherwise), or a command run
/// in the container (exit code 0 is healthy). An unhealthy answer is a failed result that says what came back.
/// </summary>
public sealed class Prober(DockerEngine docker, ReplicaOperations operations, TimeProvider time) : IDisposable
{
    const int MaxExecOutput = 4 * 1024;

    // One client for every probe: no connection reuse (a probe must open its own connection, like a user would),
    // no redirects followed (a 3xx is already an answer), no proxy.
    readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<JsonElement> ProbeAsync(ProbeBody body, CancellationToken ct)
    {
        var timeoutMs = Math.Clamp(body.TimeoutMs, 50, 60_000);
        var container = await operations.NewestAsync(body.Replica, ct);
        var inspect = await docker.Client.Containers.InspectContainerAsync(container.ID, ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMilliseconds(timeoutMs));
        var started = time.GetTimestamp();
        var output = body.Kind switch
        {
            ProbeKinds.Http => await HttpAsync(body, Address(inspect), started, timeoutMs, timeout.Token, ct),
            ProbeKinds.Tcp => await TcpAsync(body, Address(inspect), started, timeoutMs, timeout.Token, ct),
            ProbeKinds.Exec => await ExecAsync(body, inspect.ID, started, timeoutMs, timeout.Token, ct),
            _ => throw new CommandRefusedException($"probe kind '{body.Kind}' is not one of http, tcp, exec"),
        };

        var element = JsonSerializer.SerializeToElement(output, RelayJsonContext.Default.ProbeOutput);
        return output.Healthy ? element : throw new CommandFailedException($"probe {output.Kind} {output.Target}: {output.Detail}", element);
    }

    static string Address(ContainerInspectResponse container)
    {
        if (container.State?.Running != true)
        {
            throw new CommandFailedException($"container {container.Name.TrimStart('/')} is not running ({container.State?.Status})");
        }

        if (container.HostConfig?.NetworkMode == "host")
        {
            return "127.0.0.1";
        }

        return container.NetworkSettings?.Networks?.Values.Select(n => n.IPAddress).FirstOrDefault(ip => !string.IsNullOrEmpty(ip))
            ?? throw new CommandFailedException($"container {container.Name.TrimStart('/')} has no address the relay can reach (network mode {container.HostConfig?.NetworkMode})");
    }

    async Task<ProbeOutput> HttpAsync(ProbeBody body, string address, long started, int timeoutMs, CancellationToken timeout, CancellationToken ct)
    {
        var port = Port(body);
        var path = string.IsNullOrEmpty(body.Path) ? "/" : body.Path.StartsWith('/') ? body.Path : "/" + body.Path;
        var target = $"http://{address}:{port.ToString(CultureInfo.InvariantCulture)}{path}";
        try
        {
            using var response = await _http.GetAsync(target, HttpCompletionOption.ResponseHeadersRead, timeout);
            var status = (int)response.StatusCode;
            var healthy = status is >= 200 and < 400;
            return new ProbeOutput(ProbeKinds.Http, target, healthy, status, null, healthy ? null : $"answered {status}", Elapsed(started));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return Unhealthy(ProbeKinds.Http, target, ex, started, timeoutMs, ct);
        }
    }

    async Task<ProbeOutput> TcpAsync(ProbeBody body, string address, long started, int timeoutMs, CancellationToken timeout, CancellationToken ct)
    {
        var port = Port(body);
        var target = $"{address}:{port.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(address, port, timeout);
            return new ProbeOutput(ProbeKinds.Tcp, target, true, null, null, null, Elapsed(started));
        }
        catch (Exception ex) when (ex is SocketException or IOException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return Unhealthy(ProbeKinds.Tcp, target, ex, started, timeoutMs, ct);
        }
    }

    async Task<ProbeOutput> ExecAsync(ProbeBody body, string containerId, long started, int timeoutMs, CancellationToken timeout, CancellationToken ct)
    {
        if (body.Command is not { Count: > 0 } command)
        {
            throw new CommandRefusedException("an exec probe needs a command");
        }

        var target = string.Join(' ', command);
        try
        {
            var exec = await docker.Client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = [.. command],
                AttachStdout = true,
                AttachStderr = true,
            }, timeout);
            var text = new StringBuilder();
            using (var stream = await docker.Client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), timeout))
            {
                var buffer = new byte[4096];
                while (true)
                {
                    var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, timeout);
                    if (read.EOF)
                    {
                        break;
                    }

                    if (text.Length < MaxExecOutput)
                    {
                        text.Append(Encoding.UTF8.GetString(buffer, 0, Math.Min(read.Count, MaxExecOutput - text.Length)));
                    }
                }
            }

            var result = await docker.Client.Exec.InspectContainerExecAsync(exec.ID, timeout);
            var healthy = result.ExitCode == 0;
            return new ProbeOutput(ProbeKinds.Exec, target, healthy, null, result.ExitCode, text.ToString().Trim() is { Length: > 0 } said ? said : null, Elapsed(started));
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            return Unhealthy(ProbeKinds.Exec, target, ex, started, timeoutMs, ct);
        }
        catch (DockerApiException ex)
        {
            return new ProbeOutput(ProbeKinds.Exec, target, false, null, null, DockerErrors.Message(ex), Elapsed(started));
        }
    }

    static int Port(ProbeBody body) => body.Port is >= 1 and <= 65535 ? body.Port.Value
        : throw new CommandRefusedException($"a {body.Kind} probe needs a port between 1 and 65535");

    ProbeOutput Unhealthy(string kind, string target, Exception ex, long started, int timeoutMs, CancellationToken ct) =>
        new(kind, target, false, null, null,
            ex is OperationCanceledException && !ct.IsCancellationRequested ? $"no answer within {timeoutMs} ms" : ex.GetBaseException().Message,
            Elapsed(started));

    long Elapsed(long started) => (long)time.GetElapsedTime(started).TotalMilliseconds;

    public void Dispose() => _http.Dispose();
}
