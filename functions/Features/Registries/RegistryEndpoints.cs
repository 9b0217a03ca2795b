using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Registries;

/// <summary>
/// Private-registry credentials: <c>POST /api/registries</c> stores one (username and password or token encrypted as
/// secrets), <c>GET</c> lists them (never the credentials), <c>DELETE /api/registries/{id}</c> removes one. A release
/// names one in <c>registry</c>; its pulls then carry the credentials, sealed to each node.
/// </summary>
public static class RegistryEndpoints
{
    public const int MaxCredentialLength = 4096;

    public static RouteGroupBuilder MapRegistries(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/registries").WithTags("Registries");
        group.MapPost("/", Create).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapDelete("/{id:guid}", Delete).RequireAuthorization(ScopePolicies.Deploy);
        return group;
    }

    static async Task<Results<Created<RegistryView>, ValidationProblem, ProblemHttpResult>> Create(RegistryCreateRequest request, CurrentUser user, RegistryStore registries,
        HttpContext http, CancellationToken ct)
    {
        var problems = new Dictionary<string, string[]>();
        if (request.Name is null || !ReleaseSpecValidation.IsRegistryName(request.Name))
        {
            problems["name"] = ["name: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (a release's registry names it)."];
        }

        if (ServerOf(request.Server) is null)
        {
            problems["server"] = ["server is the registry's host and optional port as image references name it (registry.example.com, 127.0.0.1:5000, docker.io); no scheme or path."];
        }

        if (CredentialProblem(request.Username, "username") is { } username)
        {
            problems["username"] = [username];
        }

        if (CredentialProblem(request.Password, "password") is { } password)
        {
            problems["password"] = [password];
        }

        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        try
        {
            var registry = await registries.CreateAsync(user.AccountId, request.Name!, ServerOf(request.Server)!, new RegistryCredentials(request.Username!, request.Password!),
                AuditEvent.From(http, AuditTypes.RegistryCreated, user.AccountId, user.AccountId), ct);
            http.Response.Headers.CacheControl = "no-store";
            return TypedResults.Created($"/api/registries/{registry.Id}", View(registry));
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: RegistryStore.NameIndex })
        {
            return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["name"] = [$"Another of your registry credentials is called '{request.Name}'."] })
            {
                Status = StatusCodes.Status409Conflict,
                Title = "Name taken",
            });
        }
    }

    static async Task<Ok<RegistryView[]>> List(CurrentUser user, RegistryStore registries, CancellationToken ct) =>
        TypedResults.Ok((await registries.ListAsync(user.AccountId, ct)).Select(View).ToArray());

    static async Task<Results<NoContent, NotFound>> Delete(Guid id, CurrentUser user, RegistryStore registries, HttpContext http, CancellationToken ct) =>
        await registries.DeleteAsync(user.AccountId, id, AuditEvent.From(http, AuditTypes.RegistryDeleted, user.AccountId, user.AccountId), ct)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();

    /// <summary>The server as stored (lower case; Docker Hub's aliases as <c>docker.io</c>), or null when it is not a registry host.</summary>
    public static string? ServerOf(string? server)
    {
        if (string.IsNullOrEmpty(server) || server.Length > 255)
        {
            return null;
        }

        var normalized = server.ToLowerInvariant();
        if (normalized is "docker.io" or "index.docker.io" or "registry-1.docker.io")
        {
            return "docker.io";
        }

        return ImageReference.TryParse($"{normalized}/a/b:latest", out var reference, out _) && reference.Registry == normalized ? normalized : null;
    }

    /// <summary>The registry an image is pulled from, as <see cref="ServerOf"/> names it (<c>docker.io</c> for one without a registry part).</summary>
    public static string ServerOfImage(ImageReference image) => image.Registry is { } registry ? ServerOf(registry) ?? registry.ToLowerInvariant() : "docker.io";

    static string? CredentialProblem(string? value, string field) => value switch
    {
        null or "" => $"{field} is required.",
        { Length: > MaxCredentialLength } => $"{field} is at most {MaxCredentialLength} characters.",
        _ when value.Any(char.IsControl) => $"{field} must not contain control characters.",
        _ => null,
    };

    static RegistryView View(Registry registry) => new(registry.Id, registry.Name, registry.Server, registry.CreatedAt, registry.UpdatedAt);
}
