namespace Automator67.Functions.Features.Apps;

public sealed record AppCreateRequest(string? Name, Dictionary<string, string>? Labels);

/// <summary>Either or both; a field left out keeps its value.</summary>
public sealed record AppPatchRequest(string? Name, Dictionary<string, string>? Labels);

/// <remarks><see cref="Runtime"/> is filled in by <c>GET /api/apps/{id}</c> only.</remarks>
public sealed record AppView(Guid Id, string Name, IReadOnlyDictionary<string, string> Labels, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    Operations.AppRuntimeView? Runtime = null);

/// <summary>A release as stored: its spec with every default written out.</summary>
public sealed record ReleaseView(Guid Id, int Number, DateTimeOffset CreatedAt, Guid CreatedBy, ReleaseSpec Spec);
