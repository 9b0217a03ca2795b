using Azure.Core;
using Azure.Identity;
using Azure.Storage.Queues;

namespace Automator67.Functions.Queues;

/// <summary>
/// How the control plane reaches the queue service, in the Azure Functions shape: either the connection string
/// <c>AzureWebJobsStorage</c> (an account key; Azurite locally), or the identity-based connection
/// <c>AzureWebJobsStorage__queueServiceUri</c> with <c>__credential</c> and <c>__clientId</c> (an Entra token; no key).
/// Exactly one of the two; <see cref="Problem"/> says what is wrong otherwise.
/// </summary>
public sealed class QueueConnection
{
    public const string ConnectionStringSetting = QueueOptions.ConnectionSetting;
    public const string ServiceUriSetting = ConnectionStringSetting + "__queueServiceUri";
    public const string CredentialSetting = ConnectionStringSetting + "__credential";
    public const string ClientIdSetting = ConnectionStringSetting + "__clientId";

    /// <summary>The one <c>__credential</c> value the Functions convention defines; unset means DefaultAzureCredential.</summary>
    public const string ManagedIdentity = "managedidentity";

    QueueConnection(string? connectionString, string? serviceUri, string? credential, string? clientId)
    {
        ConnectionString = connectionString;
        Credential = credential;
        ClientId = clientId;
        ServiceUri = Uri.TryCreate(serviceUri, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps ? uri : null;
        Problem = FindProblem(serviceUri);
    }

    public string? ConnectionString { get; }

    /// <summary>The queue endpoint reached with an identity, or null when the connection string is used.</summary>
    public Uri? ServiceUri { get; }

    public string? Credential { get; }

    public string? ClientId { get; }

    /// <summary>True when the queues are reached with an identity: relays' SAS are then signed with a user delegation key.</summary>
    public bool UsesIdentity => ServiceUri is not null && ConnectionString is null;

    /// <summary>Why these settings can't be used (one line naming the setting), or null.</summary>
    public string? Problem { get; }

    /// <summary>Reads the settings; a blank value counts as unset (the sample file lists the identity settings empty).</summary>
    public static QueueConnection Read(IConfiguration configuration) => new(
        Value(configuration, ConnectionStringSetting),
        Value(configuration, ServiceUriSetting),
        Value(configuration, CredentialSetting),
        Value(configuration, ClientIdSetting));

    /// <summary>
    /// The client for these settings. <paramref name="credential"/> replaces the one the settings name (tests, whose
    /// token comes from elsewhere); the connection-string path ignores it.
    /// </summary>
    public QueueServiceClient CreateClient(QueueClientOptions options, TokenCredential? credential = null)
    {
        if (Problem is not null)
        {
            // A start-up problem: whichever part asks for the client first (the /metrics exporter does, while routes are
            // mapped), the process exits 2 with this one line.
            throw new Automator67.Hosting.StartupException(Problem);
        }

        return UsesIdentity ? new QueueServiceClient(ServiceUri, credential ?? CreateCredential(), options) : new QueueServiceClient(ConnectionString, options);
    }

    /// <summary>
    /// <c>managedidentity</c>: the app's managed identity, the user-assigned one named by <c>__clientId</c> when set.
    /// Otherwise DefaultAzureCredential (environment, workload identity, managed identity, a developer's Azure CLI …).
    /// </summary>
    public TokenCredential CreateCredential() => IsManagedIdentity(Credential)
        ? new ManagedIdentityCredential(ClientId is null ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(ClientId))
        : new DefaultAzureCredential();

    string? FindProblem(string? serviceUri)
    {
        if (ConnectionString is null && serviceUri is null)
        {
            return $"Missing setting {ConnectionStringSetting} (the storage account connection string for the relay queues; UseDevelopmentStorage=true means Azurite) "
                + $"or {ServiceUriSetting} (the queue endpoint, reached with an identity): set one in local.settings.json Values or as an environment variable.";
        }

        if (ConnectionString is not null && serviceUri is not null)
        {
            return $"Settings {ConnectionStringSetting} and {ServiceUriSetting} are both set; set only one: the connection string (account key, Azurite) "
                + "or the queue endpoint (an identity).";
        }

        if (ConnectionString is not null)
        {
            if (Credential is not null || ClientId is not null)
            {
                return $"Settings {CredentialSetting} and {ClientIdSetting} apply only with {ServiceUriSetting}; remove them, or replace {ConnectionStringSetting} with {ServiceUriSetting}.";
            }

            return IsConnectionString(ConnectionString) ? null
                : $"Setting {ConnectionStringSetting} is not a storage connection string; use UseDevelopmentStorage=true for Azurite or the account's connection string (DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…).";
        }

        if (ServiceUri is null)
        {
            return $"Setting {ServiceUriSetting} must be the queue endpoint's https URL (https://<account>.queue.core.windows.net): an identity's token is sent only over HTTPS.";
        }

        if (Credential is not null && !IsManagedIdentity(Credential))
        {
            return $"Setting {CredentialSetting} must be {ManagedIdentity} or unset (unset means DefaultAzureCredential), not '{Credential}'.";
        }

        return ClientId is not null && !IsManagedIdentity(Credential)
            ? $"Setting {ClientIdSetting} applies only with {CredentialSetting}={ManagedIdentity}; set that too, or remove {ClientIdSetting} (DefaultAzureCredential reads AZURE_CLIENT_ID)."
            : null;
    }

    static bool IsManagedIdentity(string? credential) => string.Equals(credential, ManagedIdentity, StringComparison.OrdinalIgnoreCase);

    // Checked at start so a typo stops the start with one line, not a 500 on the first /readyz.
    static bool IsConnectionString(string value)
    {
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

    // "AzureWebJobsStorage__queueServiceUri" is the key "AzureWebJobsStorage:queueServiceUri" once read.
    static string? Value(IConfiguration configuration, string setting) =>
        configuration[setting.Replace("__", ":", StringComparison.Ordinal)] is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;
}
