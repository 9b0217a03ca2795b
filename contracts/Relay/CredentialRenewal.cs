using Automator67.Contracts.Nodes;

namespace Automator67.Contracts.Relay;

/// <summary>
/// The signed payload of a credential renewal: compact JWS with <c>typ</c> <see cref="MessageTypes.Renew"/>,
/// <c>kid</c> = the node id, signed with the node's key. The control plane refuses it when
/// <see cref="RequestedAt"/> is more than 5 minutes from its clock, or not newer than the node's last renewal.
/// <see cref="SealingKey"/> (ECDH P-256, SubjectPublicKeyInfo, base64), when present, registers the key secrets are
/// sealed to: a node enrolled before sealing existed registers one this way, vouched for by its signature.
/// </summary>
public sealed record CredentialRenewal(Guid NodeId, DateTimeOffset RequestedAt, string? SealingKey = null);

/// <summary><c>POST /api/relay/credentials</c>: <see cref="Jws"/> is the signed <see cref="CredentialRenewal"/>.</summary>
public sealed record RenewCredentialsRequest(string? Jws);

/// <summary>Fresh queue credentials (same scopes, new expiry) and the command-signing keys in use now.</summary>
public sealed record RenewCredentialsResponse(NodeQueueCredentials Queues, IReadOnlyList<CommandSigningKey> CommandSigningKeys);
