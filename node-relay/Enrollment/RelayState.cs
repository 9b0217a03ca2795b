using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Hosting;

namespace Automator67.NodeRelay.Enrollment;

/// <summary>
/// What an enrolled relay knows: who it is, its private keys (<see cref="PrivateKey"/> signs, <see cref="SealingPrivateKey"/>
/// opens the secrets sealed to this node), its queue credentials and the control plane's command keys. One file, mode
/// 0600, in a folder only its owner can enter; written whole or not at all. A relay enrolled before sealing existed
/// has no sealing key: it makes one at its next start and registers it with a renewal
/// (<see cref="SealingKeyRegisteredAt"/> stays null until the control plane has it).
/// </summary>
public sealed record RelayState(
    Uri ControlPlane,
    Guid NodeId,
    string Name,
    string PrivateKey,
    NodeQueueCredentials Queues,
    IReadOnlyList<CommandSigningKey> CommandSigningKeys,
    int HeartbeatSeconds,
    DateTimeOffset EnrolledAt,
    DateTimeOffset? CredentialsIssuedAt = null,
    string? SealingPrivateKey = null,
    DateTimeOffset? SealingKeyRegisteredAt = null)
{
    public const string FileName = "node.json";

    /// <summary>
    /// When to renew the queue credentials: half-way through their lifetime (issued at enrolment or the last
    /// renewal), so a control plane that is away for a while still leaves the relay days to try again.
    /// </summary>
    public DateTimeOffset RenewalDueAt
    {
        get
        {
            var issued = CredentialsIssuedAt ?? EnrolledAt;
            return issued + ((Queues.ExpiresAt - issued) / 2);
        }
    }

    public static string PathIn(string directory) => System.IO.Path.Combine(directory, FileName);

    public static RelayState? Load(string directory)
    {
        var path = PathIn(directory);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<RelayState>(File.ReadAllText(path), JsonSerializerOptions.Web)
                ?? throw new JsonException("empty");
        }
        catch (JsonException ex)
        {
            throw new StartupException($"the relay's state file {path} is damaged ({ex.Message}); restore it from a backup, or delete the node and enrol again.");
        }
    }

    public void Save(string directory)
    {
        if (!OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        else
        {
            Directory.CreateDirectory(directory);
        }

        PrivateFile.Write(PathIn(directory), stream => JsonSerializer.Serialize(stream, this, JsonSerializerOptions.Web));
    }

    /// <summary>This state with a sealing key, made now if it has none (not registered yet: a renewal registers it).</summary>
    public RelayState WithSealingKey()
    {
        if (SealingPrivateKey is not null)
        {
            return this;
        }

        using var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return this with { SealingPrivateKey = Convert.ToBase64String(key.ExportPkcs8PrivateKey()), SealingKeyRegisteredAt = null };
    }

    public ECDiffieHellman SealingKey()
    {
        var key = ECDiffieHellman.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(SealingPrivateKey ?? throw new InvalidOperationException("the relay has no sealing key")), out _);
        return key;
    }

    public ECDsa Key()
    {
        var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(PrivateKey), out _);
        return key;
    }
}
