using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Registries;
using Npgsql;

namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// What a release refers to must exist before any step runs: the registry credential it names (for the image's own
/// registry) and every secret it maps to a variable; and its start command, with the secrets sealed, must fit one
/// queue message. Checked when a deployment, rollback, scale, start or restart is asked for, without decrypting
/// anything (the key-encryption key may be away for a while: the operation then waits, it is not refused).
/// </summary>
public static class ReleaseReferences
{
    /// <summary>Problems keyed by field (<c>registry</c>, <c>secrets.VAR</c>, <c>secrets</c>), under <paramref name="prefix"/> when given; empty when all is well.</summary>
    public static async Task<Dictionary<string, string[]>> ProblemsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid accountId, Guid appId,
        ReleaseSpec spec, CancellationToken ct, string prefix = "")
    {
        var problems = new Dictionary<string, string[]>(StringComparer.Ordinal);
        string Key(string field) => prefix.Length == 0 ? field : $"{prefix}.{field}";
        if (spec.Registry is { } name)
        {
            if (await RegistryStore.FindByNameAsync(connection, transaction, accountId, name, ct) is not { } registry)
            {
                problems[Key("registry")] = [$"no registry credential named '{name}' exists: create it with POST /api/registries."];
            }
            else if (ImageReference.TryParse(spec.Image, out var image, out _) && RegistryEndpoints.ServerOfImage(image) is var server && server != registry.Server)
            {
                problems[Key("registry")] = [$"registry credential '{name}' is for {registry.Server}, but the image comes from {server}: its credentials are never sent to another registry."];
            }
        }

        var secrets = spec.Secrets ?? new Dictionary<string, string>();
        if (secrets.Count > 0)
        {
            var missing = (await SecretStore.MissingAsync(connection, transaction, appId, [.. secrets.Values], ct)).ToHashSet(StringComparer.Ordinal);
            foreach (var (variable, secret) in secrets.Where(s => missing.Contains(s.Value)))
            {
                problems[Key($"secrets.{variable}")] = [$"the app has no secret named '{secret}': store it first with PUT /api/apps/{appId}/secrets/{secret}."];
            }

            if (missing.Count == 0)
            {
                var bytes = CommandSealer.EstimateSecretsJsonBytes(secrets, await SecretStore.ValueBytesAsync(connection, transaction, appId, [.. secrets.Values.Distinct()], ct));
                var length = CommandSealer.EstimateRunCommandLength(spec.Normalize(), bytes);
                if (length > Jws.MaxLength)
                {
                    problems[Key("secrets")] = [$"with its secrets sealed, a replica's start command would be about {length} characters; one queue message holds {Jws.MaxLength}: use fewer or smaller secrets (about {bytes} bytes now), or a smaller spec."];
                }
            }
        }

        return problems;
    }
}
