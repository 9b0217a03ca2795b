namespace Automator67.Functions.Features.Secrets;

/// <summary><c>PUT /api/apps/{id}/secrets/{name}</c>: the value, write-only (no response ever carries it).</summary>
public sealed record SecretPutRequest(string? Value);

/// <summary>A secret as listed: name, version (1 on create, +1 on each write), times and who wrote it last; never the value.</summary>
public sealed record SecretView(string Name, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, Guid? UpdatedBy);

/// <summary>The key-encryption key: where it lives, the active version, and how many secrets each version still wraps.</summary>
public sealed record SecretKeyView(string Source, string? ActiveKek, DateTimeOffset? RotatedAt, IReadOnlyDictionary<string, long> SecretsByKek);

/// <summary>A rotation: the version before, the new active one, and the rewrap job moving the data keys.</summary>
public sealed record SecretKeyRotation(string? From, string To, string RewrapJobId);
