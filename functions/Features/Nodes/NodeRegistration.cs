using Automator67.Hosting;

namespace Automator67.Functions.Features.Nodes;

public static class NodeRegistration
{
    public static IServiceCollection AddNodes(this IServiceCollection services)
    {
        services.AddSettings<NodeOptions>(NodeOptions.Section);
        services.AddSingleton<NodeStore>();
        services.AddSingleton<QueueCredentialIssuer>();
        services.AddSingleton<CommandSigningKeys>();
        services.AddHostedService<SigningKeyRotation>();
        return services;
    }
}
