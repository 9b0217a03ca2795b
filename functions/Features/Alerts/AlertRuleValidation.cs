using System.Globalization;

namespace Automator67.Functions.Features.Alerts;

/// <summary>What a rule may be: each problem names its field, for a 400 with every one of them.</summary>
public static class AlertRuleValidation
{
    public const int MaxNameLength = 100;
    public const int MaxWebhooks = 20;

    /// <summary>The checks that need no database; <see cref="AlertRuleEndpoints"/> adds unknown apps, nodes and webhooks.</summary>
    public static Dictionary<string, string[]> Problems(string? name, string? kind, Guid? appId, Guid? nodeId, double? threshold, int? durationSeconds, Guid[]? webhookIds)
    {
        var errors = new Dictionary<string, string[]>();
        var trimmed = name?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            errors["name"] = ["A name is required, e.g. 'web cpu'."];
        }
        else if (trimmed.Length > MaxNameLength || trimmed.Any(char.IsControl) || trimmed.Any(char.IsSurrogate))
        {
            errors["name"] = [$"The name must have at most {MaxNameLength} characters, none of them control characters."];
        }

        if (kind is null || !AlertKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            errors["kind"] = [$"kind must be one of {string.Join(", ", AlertKinds.All)}."];
            return errors;
        }

        if (AlertKinds.IsThreshold(kind))
        {
            var max = kind == AlertKinds.CpuAbove ? AlertKinds.MaxCpuPercent : 100;
            if (threshold is not { } t || double.IsNaN(t) || t < 1 || t > max)
            {
                errors["threshold"] = [kind == AlertKinds.CpuAbove
                    ? string.Create(CultureInfo.InvariantCulture, $"cpu-above takes a threshold in % of one core, 1-{max} (200 = two cores busy).")
                    : "memory-above takes a threshold in % of the container's memory limit, 1-100."];
            }

            if (durationSeconds is not (>= AlertKinds.MinDurationSeconds and <= AlertKinds.MaxDurationSeconds))
            {
                errors["durationSeconds"] = [$"{kind} takes a durationSeconds of {AlertKinds.MinDurationSeconds}-{AlertKinds.MaxDurationSeconds} (10 s to 24 h)."];
            }
        }
        else
        {
            if (threshold is not null)
            {
                errors["threshold"] = [$"{kind} takes no threshold; only cpu-above and memory-above do."];
            }

            if (durationSeconds is not null)
            {
                errors["durationSeconds"] = [$"{kind} takes no durationSeconds; only cpu-above and memory-above do."];
            }
        }

        if (kind == AlertKinds.NodeOffline && appId is not null)
        {
            errors["appId"] = ["node-offline watches nodes: scope it with nodeId, not appId."];
        }

        if (kind == AlertKinds.DeployFailed && nodeId is not null)
        {
            errors["nodeId"] = ["deploy-failed watches apps: scope it with appId, not nodeId."];
        }

        if (webhookIds is { Length: > MaxWebhooks })
        {
            errors["webhookIds"] = [$"A rule notifies at most {MaxWebhooks} webhooks."];
        }

        return errors;
    }
}
