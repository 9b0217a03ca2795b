using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Enrollment;

namespace Automator67.NodeRelay.Run;

/// <summary>
/// Who this relay is while it runs: its node id, its private key (signs events and renewal requests), its sealing key
/// (opens the secrets sealed to this node, in memory only) and the control plane's public keys (verify commands),
/// built from the state file and replaced whole when credentials are renewed.
/// The key objects are not documented as thread-safe, so each use takes its lock; a signature costs well under a
/// millisecond.
/// </summary>
public sealed class RelayIdentity : IDisposable
{
    readonly ECDsa _nodeKey;
    readonly ECDiffieHellman _sealingKey;
    readonly string _sealingPublicKey;
    readonly Lock _commandKeysLock = new();
    Dictionary<string, ECDsa> _commandKeys;
    volatile RelayState _state;

    public RelayIdentity(RelayState state)
    {
        // A state without a sealing key (enrolled before sealing existed) gets one; the host saves it, the renewer registers it.
        state = state.WithSealingKey();
        _state = state;
        _nodeKey = state.Key();
        _sealingKey = state.SealingKey();
        _sealingPublicKey = Convert.ToBase64String(_sealingKey.ExportSubjectPublicKeyInfo());
        _commandKeys = CommandKeys(state.CommandSigningKeys);
    }

    /// <summary>The state as it is now: queue credentials and command keys change when they are renewed.</summary>
    public RelayState State => _state;

    public Guid NodeId => _state.NodeId;

    /// <summary>The kids of the command keys this relay trusts now.</summary>
    public IReadOnlyList<string> CommandKeyIds
    {
        get
        {
            lock (_commandKeysLock)
            {
                return [.. _commandKeys.Keys];
            }
        }
    }

    /// <summary>Verifies a command message against the control plane's keys: its payload, or why it was refused.</summary>
    public (byte[]? Payload, string? Kid, string? Problem) VerifyCommand(string compact)
    {
        lock (_commandKeysLock)
        {
            return Jws.Verify(compact, MessageTypes.Command, kid => _commandKeys.GetValueOrDefault(kid));
        }
    }

    /// <summary>Signs an event payload with the node's key; the kid is the node id, so the control plane knows whose key to check.</summary>
    public string SignEvent(ReadOnlySpan<byte> payload) => Sign(payload, MessageTypes.Event);

    /// <summary>
    /// A credential renewal request for <c>POST /api/relay/credentials</c>, signed with the node's key; it carries the
    /// sealing public key every time, so a node that had none registered gets it registered.
    /// </summary>
    public string SignRenewal(DateTimeOffset requestedAt) =>
        Sign(JsonSerializer.SerializeToUtf8Bytes(new CredentialRenewal(NodeId, requestedAt, _sealingPublicKey), RelayJsonContext.Default.CredentialRenewal), MessageTypes.Renew);

    /// <summary>Opens a value sealed to this node for <paramref name="purpose"/>; throws <see cref="CryptographicException"/> when it does not open.</summary>
    public byte[] Unseal(string purpose, string box)
    {
        lock (_sealingKey)
        {
            return SealedBox.Open(_sealingKey, NodeId, purpose, box);
        }
    }

    /// <summary>Takes renewed credentials and command keys; returns the new state (which the caller saves). The sealing key is registered now.</summary>
    public RelayState Renewed(NodeQueueCredentials queues, IReadOnlyList<CommandSigningKey> commandKeys, DateTimeOffset renewedAt)
    {
        var state = _state with { Queues = queues, CommandSigningKeys = commandKeys, CredentialsIssuedAt = renewedAt, SealingKeyRegisteredAt = _state.SealingKeyRegisteredAt ?? renewedAt };
        var keys = CommandKeys(commandKeys);
        Dictionary<string, ECDsa> old;
        lock (_commandKeysLock)
        {
            old = _commandKeys;
            _commandKeys = keys;
            _state = state;
        }

        // Every use of a key holds the lock, so the old ones are free to go once they are swapped out.
        foreach (var key in old.Values)
        {
            key.Dispose();
        }

        return state;
    }

    public void Dispose()
    {
        _nodeKey.Dispose();
        _sealingKey.Dispose();
        lock (_commandKeysLock)
        {
            foreach (var key in _commandKeys.Values)
            {
                key.Dispose();
            }
        }
    }

    string Sign(ReadOnlySpan<byte> payload, string type)
    {
        lock (_nodeKey)
        {
            return Jws.Sign(payload, _nodeKey, NodeId.ToString(), type);
        }
    }

    static Dictionary<string, ECDsa> CommandKeys(IReadOnlyList<CommandSigningKey> keys) => keys
        .Where(k => k.Crv == "P-256")
        .ToDictionary(k => k.Kid, k => ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(k.X), Y = Base64Url.DecodeFromChars(k.Y) },
        }), StringComparer.Ordinal);
}
