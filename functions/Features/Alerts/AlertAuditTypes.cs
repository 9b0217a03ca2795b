namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// Audit event types of this feature (filterable in <c>GET /api/audit</c> like those in <c>AuditTypes</c>; kept here so
/// the feature stays in its folder). The detail names the webhook or rule by id and name, never a secret.
/// </summary>
public static class AlertAuditTypes
{
    public const string WebhookCreated = "webhook.created";
    public const string WebhookDeleted = "webhook.deleted";
    public const string WebhookSecretRotated = "webhook.secret.rotated";
    public const string RuleCreated = "alert_rule.created";
    public const string RuleUpdated = "alert_rule.updated";
    public const string RuleDeleted = "alert_rule.deleted";
    public const string AlertAcknowledged = "alert.acknowledged";
}
