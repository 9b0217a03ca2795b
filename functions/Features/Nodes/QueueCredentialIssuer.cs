using Automator67.Contracts.Nodes;
using Automator67.Contracts.Queues;
using Automator67.Functions.Queues;
using Azure.Storage.Queues;
using Azure.Storage.Sas;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Nodes;

/// <summary>
/// Issues a node's queue credentials: SAS URLs that read, process and update its own command queue and add to the
/// events queue, nothing else. Deleting a node deletes its command queue, which ends that credential at once; its
/// events credential stays valid until expiry, but events of a node that no longer exists are refused and audited.
/// </summary>
public sealed class QueueCredentialIssuer(QueueServiceClient queues, UserDelegationKeys delegationKeys, IOptions<QueueOptions> queueOptions)
{
    public const QueueSasPermissions CommandPermissions = QueueSasPermissions.Read | QueueSasPermissions.Process | QueueSasPermissions.Update;
    public const QueueSasPermissions EventPermissions = QueueSasPermissions.Add;

    public async Task<NodeQueueCredentials> IssueAsync(Guid nodeId, DateTimeOffset expires, CancellationToken ct)
    {
        var commands = CommandQueue(nodeId);
        var events = queues.GetQueueClient(QueueNames.RelayEvents(queueOptions.Value.Prefix));
        await commands.CreateIfNotExistsAsync(cancellationToken: ct);
        await events.CreateIfNotExistsAsync(cancellationToken: ct);

        // A connection string holds the account key, which signs the SAS. With an identity there is no key (the
        // storage account in Azure refuses keys): a user delegation key, fetched with the identity, signs the same SAS.
        if (commands.CanGenerateSasUri)
        {
            return new NodeQueueCredentials(commands.GenerateSasUri(CommandPermissions, expires), events.GenerateSasUri(EventPermissions, expires), expires);
        }

        var key = await delegationKeys.GetAsync(expires, ct);
        return new NodeQueueCredentials(
            commands.GenerateUserDelegationSasUri(CommandPermissions, expires, key),
            events.GenerateUserDelegationSasUri(EventPermissions, expires, key),
            expires);
    }

    public QueueClient CommandQueue(Guid nodeId) => queues.GetQueueClient(QueueNames.NodeCommands(queueOptions.Value.Prefix, nodeId));

    /// <summary>Deletes the node's command queue: its credential can no longer read anything.</summary>
    public async Task RevokeAsync(Guid nodeId, CancellationToken ct) => await CommandQueue(nodeId).DeleteIfExistsAsync(ct);
}
