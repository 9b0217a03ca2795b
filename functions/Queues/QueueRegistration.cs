using Automator67.Hosting;
using Azure.Core;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Queues;

public static class QueueRegistration
{
    /// <summary>Registers the storage-queue client that carries relay commands and events.</summary>
    public static IServiceCollection AddRelayQueues(this IServiceCollection services)
    {
        services.AddSettings<QueueOptions>(QueueOptions.Section).Validate<IConfiguration>(
            (_, configuration) => !string.IsNullOrWhiteSpace(configuration[QueueOptions.ConnectionSetting]),
            $"Missing setting {QueueOptions.ConnectionSetting} (the storage account connection string for the relay queues; UseDevelopmentStorage=true means Azurite): set it in local.settings.json Values or as an environment variable.");

        services.AddSingleton(provider =>
        {
            var connectionString = provider.GetRequiredService<IConfiguration>()[QueueOptions.ConnectionSetting]!;
            var clientOptions = new QueueClientOptions();
            // Few, quick retries: a caller (a step, /readyz) has its own retry policy and should learn of an outage fast.
            clientOptions.Retry.Mode = RetryMode.Exponential;
            clientOptions.Retry.MaxRetries = 2;
            clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(200);
            clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
            try
            {
                return new QueueServiceClient(connectionString, clientOptions);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                throw new OptionsValidationException(QueueOptions.ConnectionSetting, typeof(QueueOptions),
                    [$"Setting {QueueOptions.ConnectionSetting} is not a valid storage connection string ({ex.Message.TrimEnd('.')}); use UseDevelopmentStorage=true for Azurite or the account's connection string."]);
            }
        });
        return services;
    }
}
