using Automator67.Contracts.Queues;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Queues;
using Azure;
using Azure.Storage.Queues;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Relay;

/// <summary><c>/api/relay/poison</c>: the instance admin's view of relay events that could not be applied.</summary>
public static class RelayEndpoints
{
    const int PreviewLength = 200;

    public static RouteGroupBuilder MapRelay(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/relay").WithTags("Relay");
        group.MapGet("/poison", ListPoison).RequireAuthorization(AuthRegistration.AdminPolicy);
        return group;
    }

    /// <summary>The oldest poison messages (peeked: left in place), with a short preview of each, never the whole payload.</summary>
    /// <param name="queues">The storage account.</param>
    /// <param name="options">Queue settings.</param>
    /// <param name="limit">How many, 1-32 (default 32): the queue service peeks at most 32.</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<PoisonMessageView[]>, ValidationProblem>> ListPoison(QueueServiceClient queues, IOptions<QueueOptions> options, int? limit, CancellationToken ct)
    {
        if (limit is < 1 or > RelayEventsOptions.BatchSize)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {RelayEventsOptions.BatchSize}."] });
        }

        var poison = queues.GetQueueClient(QueueNames.Poison(QueueNames.RelayEvents(options.Value.Prefix)));
        try
        {
            var peeked = (await poison.PeekMessagesAsync(limit ?? RelayEventsOptions.BatchSize, ct)).Value;
            return TypedResults.Ok(peeked.Select(m =>
            {
                var text = m.Body.ToString();
                var claimed = Jws.PeekKid(text) is { } kid ? new string([.. kid.Where(c => !char.IsControl(c)).Take(64)]) : null;
                var preview = new string([.. text.Take(PreviewLength).Where(c => !char.IsControl(c))]);
                return new PoisonMessageView(m.MessageId, m.InsertedOn, m.DequeueCount, claimed, text.Length, preview);
            }).ToArray());
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return TypedResults.Ok(Array.Empty<PoisonMessageView>());
        }
    }
}
