namespace Automator67.Contracts.Queues;

/// <summary>
/// Queue names shared by the control plane and the relays. Azure queue names are 3-63 lower-case letters, digits and
/// single hyphens, so a node id (a GUID) is written without braces in its "N" form.
/// </summary>
public static class QueueNames
{
    /// <summary>Where every relay sends its signed events (results, heartbeats, inventory, stats).</summary>
    public static string RelayEvents(string prefix) => $"{prefix}-relay-events";

    /// <summary>The command queue of one node; only that node's credential may read it.</summary>
    public static string NodeCommands(string prefix, Guid nodeId) => $"{prefix}-node-{nodeId:N}";

    /// <summary>Where a message goes after too many failed deliveries, to be audited instead of lost.</summary>
    public static string Poison(string queueName) => $"{queueName}-poison";
}
