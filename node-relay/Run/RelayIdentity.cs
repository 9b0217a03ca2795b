using System.Buffers.Text;
using System.Security.Cryptography;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Enrollment;

namespace Automator67.NodeRelay.Run;

/// <summary>
/// Who this relay is while it runs: its node id, its private key (signs events) and the control plane's public keys
/// (verify commands), built once from the state file. The key objects are not documented as thread-safe, so each
/// use takes its lock; a signature costs well under a millisecond.
/// </summary>
public sealed class RelayIdentity : IDisposable
{
    readonly ECDsa _nodeKey;
    readonly Dictionary<string, ECDsa> _commandKeys;

    public RelayIdentity(RelayState state)
    {
        State = state;
        _nodeKey = state.Key();
        _commandKeys = state.CommandSigningKeys
            .Where(k => k.Crv == "P-256")
            .ToDictionary(k => k.Kid, k => ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Base64Url.DecodeFromChars(k.X), Y = Base64Url.DecodeFromChars(k.Y) },
            }), StringComparer.Ordinal);
    }

    public RelayState State { get; }

    public Guid NodeId => State.NodeId;

    /// <summary>Verifies a command message against the control plane's keys: its payload, or why it was refused.</summary>
    public (byte[]? Payload, string? Kid, string? Problem) VerifyCommand(string compact)
    {
        lock (_commandKeys)
        {
            return Jws.Verify(compact, MessageTypes.Command, kid => _commandKeys.GetValueOrDefault(kid));
        }
    }

    /// <summary>Signs an event payload with the node's key; the kid is the node id, so the control plane knows whose key to check.</summary>
    public string SignEvent(ReadOnlySpan<byte> payload)
    {
        lock (_nodeKey)
        {
            return Jws.Sign(payload, _nodeKey, NodeId.ToString(), MessageTypes.Event);
        }
    }

    public void Dispose()
    {
        _nodeKey.Dispose();
        foreach (var key in _commandKeys.Values)
        {
            key.Dispose();
        }
    }
}
