using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Audit;

public sealed record AuditEventView(long Id, DateTimeOffset OccurredAt, string Type, Guid? AccountId, Guid? ActorId, string? Ip, string? UserAgent, System.Text.Json.JsonElement Detail);

public sealed record AuditPage(AuditEventView[] Events, long? NextBefore);

/// <summary><c>GET /api/audit</c>: the caller's own account's events; an admin sees every account's.</summary>
public static class AuditEndpoints
{
    const int MaxPage = 500;

    public static RouteGroupBuilder MapAudit(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/audit").WithTags("Audit").RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/", List);
        return group;
    }

    /// <summary>The audit events the caller may read, newest first.</summary>
    /// <param name="user">The caller.</param>
    /// <param name="dataSource">The database.</param>
    /// <param name="type">Only events of this type (e.g. <c>auth.login.failed</c>).</param>
    /// <param name="from">Events at or after this UTC time.</param>
    /// <param name="to">Events before this UTC time.</param>
    /// <param name="accountId">Admin only: one account's events.</param>
    /// <param name="before">Paging: the <c>nextBefore</c> of the previous page.</param>
    /// <param name="limit">Page size, 1-500 (default 100).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<AuditPage>, ValidationProblem>> List(
        CurrentUser user, NpgsqlDataSource dataSource, string? type, DateTimeOffset? from, DateTimeOffset? to, Guid? accountId, long? before, int? limit, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > MaxPage)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxPage}."];
        }

        if (from is not null && to is not null && from >= to)
        {
            errors["from"] = ["from must be before to."];
        }

        if (type is { Length: > 100 })
        {
            errors["type"] = ["type must have at most 100 characters."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        // Only an admin reads other accounts' events; anyone else's filter is their own account, whatever they asked.
        var account = user.IsAdmin ? accountId : user.AccountId;
        var pageSize = limit ?? 100;
        await using var command = dataSource.CreateCommand("""
            SELECT id, occurred_at, type, account_id, actor_id, ip, user_agent, detail::text FROM a67.audit_events
            WHERE (@account::uuid IS NULL OR account_id = @account)
              AND (@type::text IS NULL OR type = @type)
              AND (@from::timestamptz IS NULL OR occurred_at >= @from)
              AND (@to::timestamptz IS NULL OR occurred_at < @to)
              AND (@before::bigint IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("account", (object?)account ?? DBNull.Value);
        command.Parameters.AddWithValue("type", (object?)type ?? DBNull.Value);
        command.Parameters.AddWithValue("from", (object?)from ?? DBNull.Value);
        command.Parameters.AddWithValue("to", (object?)to ?? DBNull.Value);
        command.Parameters.AddWithValue("before", (object?)before ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", pageSize + 1);
        var events = new List<AuditEventView>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                using var detail = System.Text.Json.JsonDocument.Parse(reader.GetString(7));
                events.Add(new AuditEventView(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.IsDBNull(4) ? null : reader.GetGuid(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), detail.RootElement.Clone()));
            }
        }

        var hasMore = events.Count > pageSize;
        var pageEvents = events.Take(pageSize).ToArray();
        return TypedResults.Ok(new AuditPage(pageEvents, hasMore ? pageEvents[^1].Id : null));
    }
}
