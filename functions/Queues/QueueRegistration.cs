using Automator67.Hosting;
using Azure.Core;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Queues;

public static class QueueRegistration
{
    /// <summary>
    /// Registers the storage-queue client that carries relay commands and events, from the connection string or, when
    /// <c>AzureWebJobsStorage__queueServiceUri</c> is set instead, with an identity (see <see cref="QueueConnection"/>).
    /// </summary>
    public static IServiceCollection AddRelayQueues(this IServiceCollection services)
    {
        services.AddSettings<QueueOptions>(QueueOptions.Section);
        services.AddSingleton<IValidateOptions<QueueOptions>, QueueConnectionValidator>();
        services.AddSingleton(provider => QueueConnection.Read(provider.GetRequiredService<IConfiguration>()).CreateClient(ClientOptions()));
        services.AddSingleton<UserDelegationKeys>();
        return services;
    }

    /// <summary>The client options the control plane uses; tests add their transport to them.</summary>
    public static QueueClientOptions ClientOptions()
    {
        var clientOptions = new QueueClientOptions();
        // Few, quick retries: a caller (a step, /readyz) has its own retry policy and should learn of an outage fast.
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = 2;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(200);
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        return clientOptions;
    }

    // Checked at start (QueueOptions is validated on start), so a missing or conflicting setting stops the start with one line.
    sealed class QueueConnectionValidator(IConfiguration configuration) : IValidateOptions<QueueOptions>
    {
        public ValidateOptionsResult Validate(string? name, QueueOptions options) =>
            QueueConnection.Read(configuration).Problem is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
