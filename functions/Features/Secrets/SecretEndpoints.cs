using System.Text;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Auth.Authentication;
using Hangfire;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// An app's secrets, write-only: <c>PUT /api/apps/{id}/secrets/{name}</c> stores a value (the next version),
/// <c>GET /api/apps/{id}/secrets</c> lists names and versions, <c>DELETE …/{name}</c> removes one. No response ever
/// carries a value. The instance admin rotates the key-encryption key with <c>POST /api/secrets/key/rotate</c>.
/// </summary>
public static class SecretEndpoints
{
    public static void MapSecrets(this IEndpointRouteBuilder routes)
    {
        var apps = routes.MapGroup("/api/apps/{id:guid}/secrets").WithTags("Secrets");
        apps.MapPut("/{name}", Put).RequireAuthorization(ScopePolicies.Deploy);
        apps.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        apps.MapDelete("/{name}", Delete).RequireAuthorization(ScopePolicies.Deploy);

        var key = routes.MapGroup("/api/secrets/key").WithTags("Secrets");
        key.MapGet("/", KeyStatus).RequireAuthorization(AuthRegistration.AdminPolicy);
        key.MapPost("/rotate", Rotate).RequireAuthorization(AuthRegistration.AdminPolicy);
    }

    /// <summary>Stores the secret's value as its next version (201 for the first, 200 after); the answer never holds the value.</summary>
    static async Task<IResult> Put(Guid id, string name, SecretPutRequest request, CurrentUser user, SecretStore secrets, HttpContext http, CancellationToken ct)
    {
        var problems = new Dictionary<string, string[]>();
        if (SecretNames.NameProblem(name) is { } nameProblem)
        {
            problems["name"] = [nameProblem];
        }

        if (SecretNames.ValueProblem(request.Value) is { } valueProblem)
        {
            problems["value"] = [valueProblem];
        }

        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        if (await secrets.CountAsync(id, ct) >= SecretStore.MaxSecretsPerApp && (await secrets.ListAsync(user.AccountId, id, ct))?.Any(s => s.Name == name) == false)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = [$"An app has at most {SecretStore.MaxSecretsPerApp} secrets; delete one first."] });
        }

        var info = await secrets.PutAsync(user.AccountId, id, name, Encoding.UTF8.GetBytes(request.Value!), user.AccountId,
            AuditEvent.From(http, AuditTypes.SecretWritten, user.AccountId, user.AccountId), ct);
        if (info is null)
        {
            return TypedResults.NotFound();
        }

        http.Response.Headers.CacheControl = "no-store";
        var view = View(info);
        return info.Version == 1 ? TypedResults.Created($"/api/apps/{id}/secrets/{name}", view) : TypedResults.Ok(view);
    }

    static async Task<Results<Ok<SecretView[]>, NotFound>> List(Guid id, CurrentUser user, SecretStore secrets, CancellationToken ct) =>
        await secrets.ListAsync(user.AccountId, id, ct) is { } list ? TypedResults.Ok(list.Select(View).ToArray()) : TypedResults.NotFound();

    static async Task<Results<NoContent, NotFound>> Delete(Guid id, string name, CurrentUser user, SecretStore secrets, HttpContext http, CancellationToken ct) =>
        SecretNames.IsValid(name) && await secrets.DeleteAsync(user.AccountId, id, name, AuditEvent.From(http, AuditTypes.SecretDeleted, user.AccountId, user.AccountId), ct)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();

    static async Task<Ok<SecretKeyView>> KeyStatus(NpgsqlDataSource dataSource, KeyEncryptionKeys keks, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT (SELECT active_kek FROM a67.secret_key_state), (SELECT rotated_at FROM a67.secret_key_state), kek_id, count(*)
            FROM a67.secrets GROUP BY kek_id
            UNION ALL SELECT (SELECT active_kek FROM a67.secret_key_state), (SELECT rotated_at FROM a67.secret_key_state), NULL, 0
            """);
        string? active = null;
        DateTimeOffset? rotatedAt = null;
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            active = reader.IsDBNull(0) ? null : reader.GetString(0);
            rotatedAt = reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1);
            if (!reader.IsDBNull(2))
            {
                counts[reader.GetString(2)] = reader.GetInt64(3);
            }
        }

        return TypedResults.Ok(new SecretKeyView(keks.Description, active, rotatedAt, counts));
    }

    /// <summary>
    /// Makes a new KEK version active at once (new writes use it) and starts the rewrap job that moves every data key
    /// to it in batches. Reads never stop: the old version stays readable. 202 with both versions and the job id.
    /// </summary>
    static async Task<IResult> Rotate(CurrentUser user, NpgsqlDataSource dataSource, KeyEncryptionKeys keks, AuditLog audit, IBackgroundJobClient jobs, HttpContext http,
        CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var (from, to) = await keks.RotateAsync(connection, transaction, ct);
        await audit.WriteAsync(connection, transaction, AuditEvent.From(http, AuditTypes.SecretKeyRotated, user.AccountId, user.AccountId,
            new Dictionary<string, object?> { ["from"] = from, ["to"] = to }), ct);
        await transaction.CommitAsync(ct);
        var job = jobs.Enqueue<SecretRewrap>(r => r.RunAsync(CancellationToken.None));
        return TypedResults.Accepted("/api/secrets/key", new SecretKeyRotation(from, to, job));
    }

    static SecretView View(SecretInfo info) => new(info.Name, info.Version, info.CreatedAt, info.UpdatedAt, info.UpdatedBy);
}
