using System.Text.Json;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Automator67.Functions.Features.Events;

public sealed record EventView(long Id, DateTimeOffset OccurredAt, string Type, string Severity, Guid? AppId, Guid? NodeId, Guid? OperationId,
    Guid? ReplicaId, string Message, JsonElement Detail);

public sealed record EventPage(EventView[] Events, long? NextBefore);

/// <summary><c>GET /api/events</c>: the caller's account's events, newest first, by app, node, type and time.</summary>
public static class EventEndpoints
{
    public const int MaxPage = 500;
    public const int DefaultPage = 100;

    public static RouteGroupBuilder MapEvents(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/events").WithTags("Events").RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/", List);
        return group;
    }

    /// <summary>The account's events, newest first.</summary>
    /// <param name="user">The caller.</param>
    /// <param name="dataSource">The database.</param>
    /// <param name="appId">Only events about this app.</param>
    /// <param name="nodeId">Only events about this node.</param>
    /// <param name="type">Only events of these types (comma-separated, e.g. <c>node.lost,replica.crashed</c>).</param>
    /// <param name="from">Events at or after this UTC time.</param>
    /// <param name="to">Events before this UTC time.</param>
    /// <param name="before">Paging: the <c>nextBefore</c> of the previous page.</param>
    /// <param name="limit">Page size, 1-500 (default 100).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<EventPage>, ValidationProblem>> List(CurrentUser user, NpgsqlDataSource dataSource, Guid? appId, Guid? nodeId,
        string? type, DateTimeOffset? from, DateTimeOffset? to, long? before, int? limit, CancellationToken ct)
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

        if (before is < 1)
        {
            errors["before"] = ["before must be the nextBefore of a previous page (1 or more)."];
        }

        var types = type?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        if (type is not null && (types.Length == 0 || types.Any(t => !EventTypes.All.Contains(t, StringComparer.Ordinal))))
        {
            var unknown = types.Where(t => !EventTypes.All.Contains(t, StringComparer.Ordinal)).Select(Labels.LabelRules.Printable);
            errors["type"] = [$"type takes one or more of {string.Join(", ", EventTypes.All)} (comma-separated); unknown: '{string.Join("', '", unknown)}'."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var pageSize = limit ?? DefaultPage;
        await using var command = dataSource.CreateCommand("""
            SELECT id, occurred_at, type, severity, app_id, node_id, operation_id, replica_id, message, detail::text FROM a67.events
            WHERE account_id = @account
              AND (@app::uuid IS NULL OR app_id = @app)
              AND (@node::uuid IS NULL OR node_id = @node)
              AND (cardinality(@types::text[]) = 0 OR type = ANY(@types))
              AND (@from::timestamptz IS NULL OR occurred_at >= @from)
              AND (@to::timestamptz IS NULL OR occurred_at < @to)
              AND (@before::bigint IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("account", user.AccountId);
        command.Parameters.AddWithValue("app", (object?)appId ?? DBNull.Value);
        command.Parameters.AddWithValue("node", (object?)nodeId ?? DBNull.Value);
        command.Parameters.AddWithValue("types", types);
        command.Parameters.AddWithValue("from", (object?)from ?? DBNull.Value);
        command.Parameters.AddWithValue("to", (object?)to ?? DBNull.Value);
        command.Parameters.AddWithValue("before", (object?)before ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", pageSize + 1);
        var events = await command.ReadAllAsync(reader =>
        {
            using var detail = JsonDocument.Parse(reader.GetString(9));
            return new EventView(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<Guid?>(4), reader.GetFieldValue<Guid?>(5), reader.GetFieldValue<Guid?>(6), reader.GetFieldValue<Guid?>(7), reader.GetString(8), detail.RootElement.Clone());
        }, ct);

        var hasMore = events.Count > pageSize;
        var page = events.Take(pageSize).ToArray();
        return TypedResults.Ok(new EventPage(page, hasMore ? page[^1].Id : null));
    }
}
