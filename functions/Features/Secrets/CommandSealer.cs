using System.Buffers.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Registries;
using Automator67.Functions.Features.Relay;
using Npgsql;

namespace Automator67.Functions.Features.Secrets;

/// <summary>What became of one command an advance wants sent: the request to send, or why it cannot be built.</summary>
public sealed record SealedCommand(CommandIntent Intent, CommandRequest Request, string? Failure);

/// <summary>
/// Puts secrets into the commands an operation sends, as each command is built: a replica's secrets (its release's
/// <c>secrets</c>) and a pull's registry credentials (its release's <c>registry</c>) are decrypted in memory and sealed
/// to the receiving node's sealing key (<see cref="SealedBox"/>), so only the nodes that run the app ever get them,
/// and never in clear: not in the commands table (which holds no bodies), the queue, the journal, an event or a log.
/// A command that cannot be built (the secret or credential was deleted, it does not decrypt, the node has no sealing
/// key) fails at once with the reason, and the operation's retries and rollback take it from there; a KEK that cannot
/// be read now throws <see cref="KeyUnavailableException"/>, and the whole advance waits and is tried again.
/// </summary>
public sealed class CommandSealer(SecretStore secrets, RegistryStore registries)
{
    /// <summary>The JWS header of a command, with room for any kid: its base64url length is at most this.</summary>
    const int HeaderAllowance = 200;
    const int SignatureLength = 86;

    static readonly JsonSerializerOptions SecretsJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task<IReadOnlyList<SealedCommand>> SealAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid appId,
        IReadOnlyList<CommandIntent> intents, CancellationToken ct)
    {
        var results = new List<SealedCommand>(intents.Count);
        var needing = intents.Where(i => i.Release is { } release
            && (i.Request.Kind == CommandKinds.RunReplica && release.Spec.Secrets is { Count: > 0 } || i.Request.Kind == CommandKinds.PullImage && release.Spec.Registry is not null)).ToList();
        if (needing.Count == 0)
        {
            return [.. intents.Select(i => new SealedCommand(i, i.Request, null))];
        }

        var sealingKeys = await SealingKeysAsync(connection, transaction, [.. needing.Select(i => i.Request.NodeId).Distinct()], ct);
        var envs = new Dictionary<Guid, (byte[]? Json, string? Failure)>();
        var credentials = new Dictionary<Guid, (byte[]? Json, string? Failure)>();
        foreach (var intent in intents)
        {
            if (!needing.Contains(intent))
            {
                results.Add(new SealedCommand(intent, intent.Request, null));
                continue;
            }

            var release = intent.Release!;
            var request = intent.Request;
            if (!sealingKeys.TryGetValue(request.NodeId, out var sealingKey) || sealingKey is null)
            {
                results.Add(new SealedCommand(intent, request, "not sent: the node has no sealing key registered, so no secret can reach it " +
                    "(its relay registers one when it starts; update and restart node-relay)"));
                continue;
            }

            if (request.Kind == CommandKinds.RunReplica)
            {
                if (!envs.TryGetValue(release.Id, out var env))
                {
                    envs[release.Id] = env = await EnvAsync(connection, transaction, accountId, appId, release, ct);
                }

                if (env.Failure is not null)
                {
                    results.Add(new SealedCommand(intent, request, env.Failure));
                    continue;
                }

                var body = request.Body.Deserialize(RelayJsonContext.Default.RunReplicaBody)! with
                {
                    SealedEnv = SealedBox.Seal(sealingKey, request.NodeId, SealedBox.Purposes.Env, env.Json),
                };
                results.Add(Fits(intent, request with { Body = JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.RunReplicaBody) }));
            }
            else
            {
                if (!credentials.TryGetValue(release.Id, out var credential))
                {
                    credentials[release.Id] = credential = await CredentialsAsync(connection, transaction, accountId, release, ct);
                }

                if (credential.Failure is not null)
                {
                    results.Add(new SealedCommand(intent, request, credential.Failure));
                    continue;
                }

                var body = request.Body.Deserialize(RelayJsonContext.Default.PullImageBody)! with
                {
                    Credentials = null,
                    SealedCredentials = SealedBox.Seal(sealingKey, request.NodeId, SealedBox.Purposes.RegistryCredentials, credential.Json),
                };
                results.Add(Fits(intent, request with { Body = JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.PullImageBody) }));
            }
        }

        return results;
    }

    /// <summary>
    /// How long the signed start command of a replica of <paramref name="spec"/> would be, with secrets whose JSON
    /// takes <paramref name="secretsJsonBytes"/> bytes: a deployment whose command would not fit a queue message is
    /// refused before it starts.
    /// </summary>
    public static int EstimateRunCommandLength(ReleaseSpec spec, int secretsJsonBytes)
    {
        var release = new Release(Guid.Empty, Guid.Empty, int.MaxValue, spec, DateTimeOffset.MaxValue, Guid.Empty);
        var body = ReplicaSpecs.RunReplica(Guid.Empty.ToString("N"), release, 999, long.MaxValue) with
        {
            SealedEnv = secretsJsonBytes > 0 ? new string('x', SealedBox.SealedLength(secretsJsonBytes)) : null,
        };
        return SignedLength(CommandKinds.RunReplica, JsonSerializer.SerializeToElement(body, RelayJsonContext.Default.RunReplicaBody));
    }

    /// <summary>The JSON of the secrets of <paramref name="secretsOfSpec"/> takes about this many bytes, from their stored sizes (escapes aside).</summary>
    public static int EstimateSecretsJsonBytes(IReadOnlyDictionary<string, string> secretsOfSpec, int valueBytes) =>
        2 + valueBytes + secretsOfSpec.Keys.Sum(name => name.Length + 6);

    static SealedCommand Fits(CommandIntent intent, CommandRequest request)
    {
        var length = SignedLength(request.Kind, request.Body);
        return length <= Jws.MaxLength
            ? new SealedCommand(intent, request, null)
            : new SealedCommand(intent, request, $"not sent: with its sealed secrets the {request.Kind} command is about {length} characters signed; a queue message holds {Jws.MaxLength}");
    }

    static int SignedLength(string kind, JsonElement body)
    {
        var envelope = new CommandEnvelope(Guid.Empty, Guid.Empty, Guid.Empty, DateTimeOffset.MaxValue, DateTimeOffset.MaxValue, kind, body);
        return HeaderAllowance + 1 + Base64Url.GetEncodedLength(JsonSerializer.SerializeToUtf8Bytes(envelope, RelayJsonContext.Default.CommandEnvelope).Length) + 1 + SignatureLength;
    }

    async Task<(byte[]? Json, string? Failure)> EnvAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Guid appId, Release release,
        CancellationToken ct)
    {
        var references = release.Spec.Secrets!;
        Dictionary<string, byte[]> values;
        try
        {
            values = await secrets.ReadAsync(connection, transaction, accountId, SecretIdentity.App, appId, [.. references.Values.Distinct()], ct);
        }
        catch (SecretUnreadableException ex)
        {
            return (null, $"not sent: secret {ex.Name} of the app does not decrypt (its ciphertext was altered or moved; audited): write it again");
        }

        var missing = references.Values.Where(n => !values.ContainsKey(n)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            return (null, $"not sent: release {release.Number} needs secret{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing)}, which the app no longer has");
        }

        var env = references.ToDictionary(r => r.Key, r => System.Text.Encoding.UTF8.GetString(values[r.Value]), StringComparer.Ordinal);
        return (JsonSerializer.SerializeToUtf8Bytes(env, SecretsJson), null);
    }

    async Task<(byte[]? Json, string? Failure)> CredentialsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid accountId, Release release,
        CancellationToken ct)
    {
        var name = release.Spec.Registry!;
        if (await RegistryStore.FindByNameAsync(connection, transaction, accountId, name, ct) is not { } registry)
        {
            return (null, $"not sent: release {release.Number} pulls with registry credential {name}, which no longer exists");
        }

        try
        {
            return await registries.CredentialsAsync(connection, transaction, registry, ct) is { } found
                ? (JsonSerializer.SerializeToUtf8Bytes(found, RelayJsonContext.Default.RegistryCredentials), null)
                : (null, $"not sent: registry credential {name} has no credentials stored");
        }
        catch (SecretUnreadableException)
        {
            return (null, $"not sent: registry credential {name} does not decrypt (its ciphertext was altered or moved; audited): create it again");
        }
    }

    static async Task<Dictionary<Guid, byte[]?>> SealingKeysAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] nodes, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT id, sealing_key FROM a67.nodes WHERE id = ANY(@ids)", connection, transaction);
        command.Parameters.AddWithValue("ids", nodes);
        var keys = new Dictionary<Guid, byte[]?>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            keys[reader.GetGuid(0)] = reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1);
        }

        return keys;
    }
}
