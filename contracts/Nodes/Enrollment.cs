namespace Automator67.Contracts.Nodes;

/// <summary>
/// <c>POST /api/relay/enroll</c>: a relay trades a one-time join token for its node identity. The private key never
/// leaves the host: only the public keys travel (P-256, SubjectPublicKeyInfo, base64): <see cref="PublicKey"/> verifies
/// what the node signs, <see cref="SealingKey"/> (ECDH) is what secrets are sealed to. Two keys, one purpose each.
/// </summary>
public sealed record EnrollRequest(string? Token, string? PublicKey, HostFacts? Facts, string? SealingKey = null);

/// <summary>What an enrolled relay keeps in its state file.</summary>
public sealed record EnrollResponse(
    Guid NodeId,
    string Name,
    NodeQueueCredentials Queues,
    IReadOnlyList<CommandSigningKey> CommandSigningKeys,
    int HeartbeatSeconds);

/// <summary>
/// Queue URLs carrying SAS tokens scoped to this node: read, process and update its own command queue; add to the
/// events queue; nothing else. They expire; the relay renews them, signing the request with its key.
/// </summary>
public sealed record NodeQueueCredentials(Uri CommandQueue, Uri EventsQueue, DateTimeOffset ExpiresAt);

/// <summary>A public key (EC P-256, JWK coordinates) the control plane signs commands with, named by its key id.</summary>
public sealed record CommandSigningKey(string Kid, string Crv, string X, string Y);
