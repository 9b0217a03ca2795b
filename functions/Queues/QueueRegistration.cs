using Automator67.Hosting;
using Azure.Core;
using Azure.Storage.Queues;

namespace Automator67.Functions.Queues;

public static class QueueRegistration
{
    /// <summary>Registers the storage-queue client that carries relay commands and events.</summary>
    public static IServiceCollection AddRelayQueues(this IServiceCollection services)
    {
        services.AddSettings<QueueOptions>(QueueOptions.Section)
            .Validate<IConfiguration>(
                (_, configuration) => !string.IsNullOrWhiteSpace(configuration[QueueOptions.ConnectionSetting]),
                $"Missing setting {QueueOptions.ConnectionSetting} (the storage account connection string for the relay queues; UseDevelopmentStorage=true means Azurite): set it in local.settings.json Values or as an environment variable.")
            .Validate<IConfiguration>(
                (_, configuration) => IsConnectionString(configuration[QueueOptions.ConnectionSetting]),
                $"Setting {QueueOptions.ConnectionSetting} is not a storage connection string; use UseDevelopmentStorage=true for Azurite or the account's connection string (DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…).");

        services.AddSingleton(provider =>
        {
            var clientOptions = new QueueClientOptions();
            // Few, quick retries: a caller (a step, /readyz) has its own retry policy and should learn of an outage fast.
            clientOptions.Retry.Mode = RetryMode.Exponential;
            clientOptions.Retry.MaxRetries = 2;
            clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(200);
            clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
            return new QueueServiceClient(provider.GetRequiredService<IConfiguration>()[QueueOptions.ConnectionSetting], clientOptions);
        });
        return services;
    }

    // Checked at start so a typo stops the start with one line, not a 500 on the first /readyz. A missing value is the other check's.
    static bool IsConnectionString(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        try
        {
            _ = new QueueServiceClient(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
