using System.Globalization;
using System.Text;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.NodeRelay.Docker;

/// <summary>
/// <c>stop</c>, <c>restart</c>, <c>remove</c>, <c>inspect</c> and <c>logs</c> on a replica's containers, found by
/// label on this node only. A container that is already gone counts as stopped or removed: with at-least-once
/// delivery the second attempt must succeed where the first did the work.
/// </summary>
public sealed class ReplicaOperations(DockerEngine docker, ReplicaContainers containers)
{
    /// <summary>The most a logs result carries; with JSON escaping and base64 it stays well under one queue message.</summary>
    public const int MaxLogBytes = 32 * 1024;

    public async Task<JsonElement> StopAsync(StopBody body, CancellationToken ct)
    {
        ReplicaContainers.Validate(body.Replica);
        var grace = (uint)Math.Clamp(body.GraceSeconds, 0, 600);
        var stopped = new List<string>();
        foreach (var container in await containers.FindAsync(body.Replica, null, ct))
        {
            if (container.State is "running" or "restarting" or "paused")
            {
                await IgnoreNotFound(() => docker.Client.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = grace }, ct));
            }

            stopped.Add(container.ID);
        }

        return Ids(stopped);
    }

    public async Task<JsonElement> RestartAsync(ReplicaBody body, CancellationToken ct)
    {
        var container = await NewestAsync(body.Replica, ct);
        try
        {
            await docker.Client.Containers.RestartContainerAsync(container.ID, new ContainerRestartParameters { WaitBeforeKillSeconds = 10 }, ct);
        }
        catch (DockerContainerNotFoundException)
        {
            throw NotFound(body.Replica);
        }

        return Ids([container.ID]);
    }

    public async Task<JsonElement> RemoveAsync(RemoveBody body, CancellationToken ct)
    {
        ReplicaContainers.Validate(body.Replica);
        var removed = new List<string>();
        foreach (var container in await containers.FindAsync(body.Replica, null, ct))
        {
            await IgnoreNotFound(async () =>
            {
                await docker.Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = body.Force }, ct);
                return true;
            });
            removed.Add(container.ID);
        }

        return Ids(removed);
    }

    public async Task<JsonElement> RemoveContainerAsync(RemoveContainerBody body, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body.ContainerId) || body.ContainerId.Length > 128 || !body.ContainerId.All(char.IsAsciiLetterOrDigit))
        {
            throw new CommandRefusedException("remove-container needs a container id (letters and digits)");
        }

        ContainerInspectResponse container;
        try
        {
            container = await docker.Client.Containers.InspectContainerAsync(body.ContainerId, ct);
        }
        catch (DockerContainerNotFoundException)
        {
            return Ids([]);
        }

        // Only this node's Automator67 containers are ever touched: a container without our labels is someone else's.
        if (!containers.IsOurs(container.Config?.Labels))
        {
            throw new CommandRefusedException($"container {body.ContainerId} is not an Automator67 container of this node; it is left alone");
        }

        var generation = ReplicaContainers.GenerationOf(container.Config?.Labels);
        if (body.Generation is { } fenced && generation != fenced)
        {
            throw new CommandFailedException($"container {body.ContainerId} carries generation {generation?.ToString(CultureInfo.InvariantCulture) ?? "(none)"}, not {fenced}; it is left alone");
        }

        await IgnoreNotFound(async () =>
        {
            await docker.Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, ct);
            return true;
        });
        return Ids([container.ID]);
    }

    public async Task<JsonElement> InspectAsync(ReplicaBody body, CancellationToken ct)
    {
        ReplicaContainers.Validate(body.Replica);
        var reports = new List<ContainerReport>();
        foreach (var container in await containers.FindAsync(body.Replica, null, ct))
        {
            try
            {
                reports.Add(ReplicaContainers.Report(await docker.Client.Containers.InspectContainerAsync(container.ID, ct), null));
            }
            catch (DockerContainerNotFoundException)
            {
                // Removed between the list and the inspect: it is simply not there any more.
            }
        }

        return JsonSerializer.SerializeToElement(new InspectOutput(reports), RelayJsonContext.Default.InspectOutput);
    }

    /// <summary>The last <see cref="LogsBody.Tail"/> lines of the newest container, stdout and stderr interleaved, cut from the front to the byte bound.</summary>
    public async Task<JsonElement> LogsAsync(LogsBody body, CancellationToken ct)
    {
        var container = await NewestAsync(body.Replica, ct);
        var limit = Math.Clamp(body.MaxBytes, 1, MaxLogBytes);
        var tail = Math.Clamp(body.Tail, 1, 10_000);
        MultiplexedStream stream;
        try
        {
            stream = await docker.Client.Containers.GetContainerLogsAsync(container.ID, new ContainerLogsParameters
            {
                ShowStdout = true,
                ShowStderr = true,
                Tail = tail.ToString(CultureInfo.InvariantCulture),
            }, ct);
        }
        catch (DockerContainerNotFoundException)
        {
            throw NotFound(body.Replica);
        }

        // Keep only the newest bytes: a window of twice the limit, shifted as more arrives, so memory stays bounded
        // however long the lines are.
        var window = new byte[2 * limit];
        var length = 0;
        var total = 0L;
        using (stream)
        {
            var buffer = new byte[16 * 1024];
            while (true)
            {
                var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, ct);
                if (read.EOF)
                {
                    break;
                }

                total += read.Count;
                var chunk = buffer.AsSpan(0, read.Count);
                if (chunk.Length >= window.Length)
                {
                    chunk[^window.Length..].CopyTo(window);
                    length = window.Length;
                    continue;
                }

                if (length + chunk.Length > window.Length)
                {
                    var keep = window.Length - chunk.Length;
                    window.AsSpan(length - keep, keep).CopyTo(window);
                    length = keep;
                }

                chunk.CopyTo(window.AsSpan(length));
                length += chunk.Length;
            }
        }

        var start = Math.Max(0, length - limit);
        // Do not start in the middle of a UTF-8 character.
        while (start < length && (window[start] & 0xC0) == 0x80)
        {
            start++;
        }

        var text = Encoding.UTF8.GetString(window, start, length - start);
        return JsonSerializer.SerializeToElement(new LogsOutput(container.ID, text, total > length - start), RelayJsonContext.Default.LogsOutput);
    }

    /// <summary>The replica's container of the newest generation, or a failed result.</summary>
    public async Task<ContainerListResponse> NewestAsync(ReplicaSelector replica, CancellationToken ct)
    {
        ReplicaContainers.Validate(replica);
        var found = await containers.FindAsync(replica, null, ct);
        return found.Count > 0 ? found[0] : throw NotFound(replica);
    }

    static CommandFailedException NotFound(ReplicaSelector replica) =>
        new($"replica {replica.App}/{replica.Release}/{replica.Replica} has no container on this node");

    static async Task IgnoreNotFound<T>(Func<Task<T>> action)
    {
        try
        {
            await action();
        }
        catch (DockerContainerNotFoundException)
        {
        }
    }

    static JsonElement Ids(List<string> ids) => JsonSerializer.SerializeToElement(new ContainersOutput(ids), RelayJsonContext.Default.ContainersOutput);
}
