using Automator67.Functions.Features.Registries;
using Automator67.Hosting;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Secrets;

public static class SecretRegistration
{
    public static IServiceCollection AddSecrets(this IServiceCollection services)
    {
        services.AddSettings<SecretsOptions>(SecretsOptions.Section);
        services.AddSingleton<IKeyEncryptionKeySource>(provider =>
        {
            var options = provider.GetRequiredService<IOptions<SecretsOptions>>().Value;
            if (options.Vault is not { } vault)
            {
                return ActivatorUtilities.CreateInstance<LocalKeyFileSource>(provider);
            }

            // The managed identity in Azure, a developer's az login elsewhere: whatever DefaultAzureCredential finds.
            var clientOptions = new SecretClientOptions { Retry = { MaxRetries = 2, NetworkTimeout = options.KeyVaultTimeout } };
            return new KeyVaultKeySource(new SecretClient(vault, new DefaultAzureCredential(), clientOptions), options.KeyVaultSecretName);
        });
        services.AddSingleton<KeyEncryptionKeys>();
        services.AddSingleton<SecretStore>();
        services.AddSingleton<SecretRewrap>();
        services.AddSingleton<CommandSealer>();
        services.AddSingleton<RegistryStore>();
        return services;
    }
}
