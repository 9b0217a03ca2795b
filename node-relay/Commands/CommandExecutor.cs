using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Docker;
using Automator67.NodeRelay.Run;
using Docker.DotNet;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Commands;

/// <summary>
/// Executes one verified command on the Docker Engine and turns every outcome into a result: succeeded, failed (Docker
/// or the probe said no, or the Engine did not answer after a few tries) or refused (the body is malformed or asks
/// for something this node does not allow). Commands for one replica are serialised. Sealed values (a replica's
/// secrets, a pull's credentials) are opened here, in memory, just before use: never logged, journalled or reported.
/// </summary>
public sealed partial class CommandExecutor(
    DockerEngine docker,
    ImagePuller puller,
    ReplicaRunner runner,
    ReplicaOperations operations,
    Prober prober,
    RelayIdentity identity,
    IOptions<RelayOptions> options,
    TimeProvider time,
    ILogger<CommandExecutor> logger)
{
    const int DockerAttempts = 3;

    readonly KeyedLocks _replicaLocks = new();

    /// <summary>Commands that change nothing: on redelivery they are simply run again.</summary>
    public static bool IsReadOnly(string kind) => kind is CommandKinds.Ping or CommandKinds.Inspect or CommandKinds.Logs or CommandKinds.Probe;

    /// <summary>Runs the command; throws only <see cref="OperationCanceledException"/> when <paramref name="ct"/> is cancelled (the command is then abandoned).</summary>
    public async Task<CommandResult> ExecuteAsync(CommandEnvelope command, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var output = await DispatchAsync(command, ct);
                return Result(command, ResultStatuses.Succeeded, null, output, started);
            }
            catch (CommandRefusedException ex)
            {
                return Result(command, ResultStatuses.Refused, ex.Message, null, started);
            }
            catch (CommandFailedException ex)
            {
                return Result(command, ResultStatuses.Failed, ex.Message, ex.Output, started);
            }
            catch (DockerApiException ex)
            {
                return Result(command, ResultStatuses.Failed, $"the Docker Engine refused: {DockerErrors.Message(ex)}", null, started);
            }
            catch (Exception ex) when (DockerErrors.IsUnreachable(ex, ct))
            {
                // The Engine may be restarting: every command is idempotent, so trying again is safe.
                if (attempt >= DockerAttempts)
                {
                    return Result(command, ResultStatuses.Failed,
                        $"the Docker Engine at {options.Value.DockerEndpoint} did not answer ({ex.GetBaseException().Message})", null, started);
                }

                var delay = Backoff.Delay(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
                LogDockerUnreachable(command.CommandId, attempt, delay, ex.GetBaseException().Message);
                await Task.Delay(delay, time, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A bug or an answer nobody foresaw: report it now rather than let the message come back five times.
                LogUnexpected(ex, command.CommandId, command.Kind);
                return Result(command, ResultStatuses.Failed, $"the relay could not execute the command ({ex.GetType().Name}: {ex.Message})", null, started);
            }
        }
    }

    async Task<JsonElement?> DispatchAsync(CommandEnvelope command, CancellationToken ct)
    {
        switch (command.Kind)
        {
            case CommandKinds.Ping:
                var version = await docker.Client.System.GetVersionAsync(ct);
                return JsonSerializer.SerializeToElement(new PingOutput(version.Version, version.APIVersion, time.GetUtcNow()), RelayJsonContext.Default.PingOutput);
            case CommandKinds.PullImage:
                return await puller.PullAsync(Unsealed(Body(command, RelayJsonContext.Default.PullImageBody)), ct);
            case CommandKinds.RunReplica:
                var run = Unsealed(Body(command, RelayJsonContext.Default.RunReplicaBody));
                using (await LockAsync(run.Replica, ct))
                {
                    return await runner.RunAsync(run, command.CommandId, ct);
                }

            case CommandKinds.Stop:
                var stop = Body(command, RelayJsonContext.Default.StopBody);
                using (await LockAsync(stop.Replica, ct))
                {
                    return await operations.StopAsync(stop, ct);
                }

            case CommandKinds.Restart:
                var restart = Body(command, RelayJsonContext.Default.ReplicaBody);
                using (await LockAsync(restart.Replica, ct))
                {
                    return await operations.RestartAsync(restart, ct);
                }

            case CommandKinds.Remove:
                var remove = Body(command, RelayJsonContext.Default.RemoveBody);
                using (await LockAsync(remove.Replica, ct))
                {
                    return await operations.RemoveAsync(remove, ct);
                }

            case CommandKinds.RemoveContainer:
                return await operations.RemoveContainerAsync(Body(command, RelayJsonContext.Default.RemoveContainerBody), ct);
            case CommandKinds.Inspect:
                return await operations.InspectAsync(Body(command, RelayJsonContext.Default.ReplicaBody), ct);
            case CommandKinds.Logs:
                return await operations.LogsAsync(Body(command, RelayJsonContext.Default.LogsBody), ct);
            case CommandKinds.Probe:
                return await prober.ProbeAsync(Body(command, RelayJsonContext.Default.ProbeBody), ct);
            default:
                throw new CommandRefusedException($"unknown command kind '{command.Kind}'");
        }
    }

    async Task<IDisposable> LockAsync(ReplicaSelector replica, CancellationToken ct)
    {
        ReplicaContainers.Validate(replica);
        return await _replicaLocks.AcquireAsync($"{replica.App}\n{replica.Release}\n{replica.Replica}", ct);
    }

    static T Body<T>(CommandEnvelope command, JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return command.Body.Deserialize(type) ?? throw new CommandRefusedException($"the {command.Kind} command has no body");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new CommandRefusedException($"the body of the {command.Kind} command is malformed ({ex.Message})");
        }
    }

    PullImageBody Unsealed(PullImageBody body)
    {
        if (body.SealedCredentials is not { } box)
        {
            return body;
        }

        var credentials = JsonSerializer.Deserialize(Open(SealedBox.Purposes.RegistryCredentials, box, "the registry credentials"), RelayJsonContext.Default.RegistryCredentials)
            ?? throw new CommandRefusedException("the sealed registry credentials are empty");
        return body with { Credentials = credentials, SealedCredentials = null };
    }

    RunReplicaBody Unsealed(RunReplicaBody body)
    {
        if (body.SealedEnv is not { } box)
        {
            return body;
        }

        var secrets = JsonSerializer.Deserialize(Open(SealedBox.Purposes.Env, box, "the replica's secrets"), RelayJsonContext.Default.IReadOnlyDictionaryStringString)
            ?? throw new CommandRefusedException("the sealed secrets are empty");
        var env = new Dictionary<string, string>(body.Env ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var (name, value) in secrets)
        {
            if (!env.TryAdd(name, value))
            {
                throw new CommandRefusedException($"environment variable {name} is given both in clear and sealed");
            }
        }

        return body with { Env = env, SealedEnv = null };
    }

    byte[] Open(string purpose, string box, string what)
    {
        try
        {
            return identity.Unseal(purpose, box);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // Sealed to another node's key (or to a sealing key this relay replaced), or altered on the way.
            throw new CommandRefusedException($"{what} are sealed, and do not open with this node's sealing key");
        }
    }

    CommandResult Result(CommandEnvelope command, string status, string? error, JsonElement? output, long started) =>
        new(command.CommandId, command.OperationId, command.Kind, status, error, output, (long)time.GetElapsedTime(started).TotalMilliseconds);
}
