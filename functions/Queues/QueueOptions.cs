using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Queues;

/// <summary>The storage account whose queues carry relay commands and events.</summary>
public sealed class QueueOptions
{
    /// <summary>The Functions name for the storage account connection; <c>UseDevelopmentStorage=true</c> means Azurite.</summary>
    public const string ConnectionSetting = "AzureWebJobsStorage";

    public const string Section = "Queues";

    /// <summary>Prefix of every queue this control plane creates (<c>{prefix}-node-…</c>, <c>{prefix}-relay-events</c>). Default: <c>a67</c>.</summary>
    [Required, RegularExpression("^[a-z0-9](?:[a-z0-9]|-(?!-)){0,30}(?<!-)$", ErrorMessage = "Setting Queues__Prefix must be 1-31 lower-case letters, digits or single hyphens (Azure queue naming).")]
    public string Prefix { get; set; } = "a67";
}
