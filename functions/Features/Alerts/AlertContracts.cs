using System.Text.Json;

namespace Automator67.Functions.Features.Alerts;

/// <summary><c>POST /api/webhooks</c>.</summary>
public sealed record CreateWebhookRequest(string? Name, string? Url);

/// <summary>A webhook as listed: never its secret, only the secret's last characters.</summary>
public sealed record WebhookView(Guid Id, string Name, string Url, string SecretHint, DateTimeOffset CreatedAt, DateTimeOffset? SecretRotatedAt);

/// <summary>A new webhook. <see cref="Secret"/> is shown here only (and after a rotation); receivers verify signatures with it.</summary>
public sealed record CreatedWebhook(Guid Id, string Name, string Url, string Secret, string SecretHint, DateTimeOffset CreatedAt);

/// <summary><c>POST /api/webhooks/{id}/rotate-secret</c>: the new secret, shown once; the old one signs nothing from now on.</summary>
public sealed record RotatedWebhookSecret(Guid Id, string Secret, string SecretHint, DateTimeOffset SecretRotatedAt);

/// <summary><c>POST /api/alert-rules</c>. <c>threshold</c> and <c>durationSeconds</c> belong to <c>cpu-above</c> and <c>memory-above</c> only.</summary>
public sealed record CreateAlertRuleRequest(string? Name, string? Kind, Guid? AppId, Guid? NodeId, double? Threshold, int? DurationSeconds, Guid[]? WebhookIds, bool? Enabled);

/// <summary><c>PATCH /api/alert-rules/{id}</c>: what is sent changes; kind and scope do not (make another rule).</summary>
public sealed record PatchAlertRuleRequest(string? Name, double? Threshold, int? DurationSeconds, Guid[]? WebhookIds, bool? Enabled);

public sealed record AlertRuleView(Guid Id, string Name, string Kind, Guid? AppId, Guid? NodeId, double? Threshold, int? DurationSeconds, Guid[] WebhookIds,
    bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What an alert is about: a node or an app, by id.</summary>
public sealed record AlertSubject(string Type, Guid Id);

public sealed record AlertView(Guid Id, Guid RuleId, string RuleName, string Kind, string Status, AlertSubject Subject, string Message, JsonElement Detail,
    long? EventId, DateTimeOffset FiredAt, DateTimeOffset? AcknowledgedAt, DateTimeOffset? ResolvedAt, string? Resolution, DeliveryView[]? Deliveries);

public sealed record AlertPage(AlertView[] Alerts, Guid? NextBefore);

/// <summary>One notification of one alert transition to one webhook, with every attempt.</summary>
public sealed record DeliveryView(Guid Id, Guid AlertId, Guid WebhookId, string Transition, string Status, int Attempts, DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt, DateTimeOffset? CompletedAt, DeliveryAttemptView[] History);

/// <summary>One POST: its answer's status code, or the error when none came.</summary>
public sealed record DeliveryAttemptView(int Attempt, DateTimeOffset StartedAt, int DurationMs, int? StatusCode, string? Error);
