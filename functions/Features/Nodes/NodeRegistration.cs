using Automator67.Functions.Queues;
using Automator67.Hosting;

namespace Automator67.Functions.Features.Nodes;

public static class NodeRegistration
{
    public static IServiceCollection AddNodes(this IServiceCollection services)
    {
        services.AddSettings<NodeOptions>(NodeOptions.Section)
            .Validate<IConfiguration>(
                (options, configuration) => options.CredentialLifetime <= UserDelegationKeys.MaxLifetime || !QueueConnection.Read(configuration).UsesIdentity,
                $"Setting Nodes__CredentialLifetime must be 7.00:00:00 or less when the queues are reached with an identity ({QueueConnection.ServiceUriSetting}): "
                + "relays' SAS are then signed with a user delegation key, which lives at most 7 days.");
        services.AddSingleton<NodeStore>();
        services.AddSingleton<QueueCredentialIssuer>();
        services.AddSingleton<CommandSigningKeys>();
        services.AddHostedService<SigningKeyRotation>();
        return services;
    }
}
