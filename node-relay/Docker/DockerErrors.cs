using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet;

namespace Automator67.NodeRelay.Docker;

/// <summary>What the Docker Engine said, in one line, and whether an exception means it did not answer at all.</summary>
public static class DockerErrors
{
    /// <summary>The engine's own message (<c>{"message": "…"}</c>), else the status.</summary>
    public static string Message(DockerApiException exception)
    {
        try
        {
            using var body = JsonDocument.Parse(exception.ResponseBody ?? "");
            if (body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
            {
                return text.Trim();
            }
        }
        catch (JsonException)
        {
        }

        return string.IsNullOrWhiteSpace(exception.ResponseBody) ? $"HTTP {(int)exception.StatusCode}" : exception.ResponseBody.Trim();
    }

    /// <summary>
    /// True when the engine could not be reached or did not answer in time (a connection refused, a closed socket, the
    /// client's own timeout), as opposed to an answer that says no. <paramref name="ct"/> tells our own cancellation apart.
    /// </summary>
    public static bool IsUnreachable(Exception exception, CancellationToken ct) =>
        exception is HttpRequestException or SocketException or IOException or TimeoutException
        || (exception is OperationCanceledException && !ct.IsCancellationRequested);
}
