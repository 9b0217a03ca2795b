namespace Automator67.Functions.Features.Alerts;

public sealed partial class WebhookDeliveryJob
{
    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Delivery {DeliveryId} to webhook {WebhookId} delivered on attempt {Attempt} ({StatusCode})")]
    partial void LogDelivered(Guid deliveryId, Guid webhookId, int attempt, int statusCode);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "Delivery {DeliveryId} to webhook {WebhookId} attempt {Attempt} not accepted ({StatusCode}, {Error}); retrying in {Delay}")]
    partial void LogRetrying(Guid deliveryId, Guid webhookId, int attempt, int? statusCode, string? error, TimeSpan delay);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "Delivery {DeliveryId} to webhook {WebhookId} failed after {Attempt} attempt(s) ({StatusCode}, {Error})")]
    partial void LogGaveUp(Guid deliveryId, Guid webhookId, int attempt, int? statusCode, string? error);
}
