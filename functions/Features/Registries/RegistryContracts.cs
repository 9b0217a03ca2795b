namespace Automator67.Functions.Features.Registries;

/// <summary>
/// <c>POST /api/registries</c>: a private registry's credentials, named for releases to refer to. <see cref="Server"/>
/// is the registry's host (and port) as image references name it (<c>registry.example.com</c>, <c>127.0.0.1:5000</c>);
/// <see cref="Password"/> is the password or an access token. Both username and password are stored encrypted.
/// </summary>
public sealed record RegistryCreateRequest(string? Name, string? Server, string? Username, string? Password);

/// <summary>A registry credential as the API shows it: never its username or password.</summary>
public sealed record RegistryView(Guid Id, string Name, string Server, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
