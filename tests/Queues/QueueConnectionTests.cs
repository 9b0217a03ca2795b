using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Hosting;
using Automator67.Functions.Queues;
using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Queues;

/// <summary>The storage settings: the connection string, or the identity-based connection, and what is refused at start.</summary>
public sealed class QueueConnectionTests
{
    const string Endpoint = "https://sta67dev.queue.core.windows.net";

    static IConfiguration Settings(params (string Name, string? Value)[] settings) => new ConfigurationBuilder()
        .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Name.Replace("__", ":", StringComparison.Ordinal), s.Value)))
        .Build();

    [Fact]
    public void Read_UsesTheConnectionString_AsBefore_WhenOnlyItIsSet()
    {
        var connection = QueueConnection.Read(Settings(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("AzureWebJobsStorage__queueServiceUri", "")));

        var client = connection.CreateClient(QueueRegistration.ClientOptions());

        Assert.Null(connection.Problem);
        Assert.False(connection.UsesIdentity);
        Assert.True(client.CanGenerateAccountSasUri);
        Assert.Equal("devstoreaccount1", client.AccountName);
    }

    [Theory]
    [InlineData("managedidentity", "1b2c3d4e-0000-4000-8000-000000000001", typeof(ManagedIdentityCredential))]
    [InlineData("ManagedIdentity", null, typeof(ManagedIdentityCredential))]
    [InlineData(null, null, typeof(DefaultAzureCredential))]
    public void Read_UsesAnIdentity_WhenOnlyTheServiceUriIsSet(string? credential, string? clientId, Type expected)
    {
        var connection = QueueConnection.Read(Settings(
            ("AzureWebJobsStorage__queueServiceUri", Endpoint), ("AzureWebJobsStorage__credential", credential), ("AzureWebJobsStorage__clientId", clientId)));

        var client = connection.CreateClient(QueueRegistration.ClientOptions());

        Assert.Null(connection.Problem);
        Assert.True(connection.UsesIdentity);
        Assert.IsType(expected, connection.CreateCredential());
        Assert.False(client.CanGenerateAccountSasUri);
        Assert.Equal("sta67dev", client.AccountName);
        Assert.Equal(new Uri(Endpoint), client.Uri);
    }

    [Fact]
    public void Problem_NamesBothSettings_WhenNeitherIsSet()
    {
        var problem = QueueConnection.Read(Settings()).Problem;

        Assert.Equal(
            "Missing setting AzureWebJobsStorage (the storage account connection string for the relay queues; UseDevelopmentStorage=true means Azurite) "
            + "or AzureWebJobsStorage__queueServiceUri (the queue endpoint, reached with an identity): set one in local.settings.json Values or as an environment variable.",
            problem);
    }

    [Fact]
    public void Problem_AsksForOne_WhenBothAreSet()
    {
        var problem = QueueConnection.Read(Settings(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("AzureWebJobsStorage__queueServiceUri", Endpoint))).Problem;

        Assert.Equal(
            "Settings AzureWebJobsStorage and AzureWebJobsStorage__queueServiceUri are both set; set only one: the connection string (account key, Azurite) or the queue endpoint (an identity).",
            problem);
    }

    [Theory]
    [InlineData("http://127.0.0.1:10001/devstoreaccount1")]
    [InlineData("sta67dev.queue.core.windows.net")]
    public void Problem_AsksForHttps_WhenTheServiceUriIsNotAnHttpsUrl(string uri)
    {
        var problem = QueueConnection.Read(Settings(("AzureWebJobsStorage__queueServiceUri", uri))).Problem;

        Assert.Equal(
            "Setting AzureWebJobsStorage__queueServiceUri must be the queue endpoint's https URL (https://<account>.queue.core.windows.net): an identity's token is sent only over HTTPS.",
            problem);
    }

    [Fact]
    public void Problem_NamesTheCredentialSetting_WhenItsValueIsUnknown()
    {
        var problem = QueueConnection.Read(Settings(("AzureWebJobsStorage__queueServiceUri", Endpoint), ("AzureWebJobsStorage__credential", "clientsecret"))).Problem;

        Assert.Equal("Setting AzureWebJobsStorage__credential must be managedidentity or unset (unset means DefaultAzureCredential), not 'clientsecret'.", problem);
    }

    [Fact]
    public void Problem_NamesTheClientIdSetting_WhenItComesWithoutManagedIdentity()
    {
        var problem = QueueConnection.Read(Settings(("AzureWebJobsStorage__queueServiceUri", Endpoint), ("AzureWebJobsStorage__clientId", "1b2c3d4e"))).Problem;

        Assert.Equal(
            "Setting AzureWebJobsStorage__clientId applies only with AzureWebJobsStorage__credential=managedidentity; set that too, or remove AzureWebJobsStorage__clientId (DefaultAzureCredential reads AZURE_CLIENT_ID).",
            problem);
    }

    [Fact]
    public void Problem_WhenIdentitySettingsComeWithTheConnectionString()
    {
        var problem = QueueConnection.Read(Settings(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("AzureWebJobsStorage__credential", "managedidentity"))).Problem;

        Assert.Equal(
            "Settings AzureWebJobsStorage__credential and AzureWebJobsStorage__clientId apply only with AzureWebJobsStorage__queueServiceUri; remove them, or replace AzureWebJobsStorage with AzureWebJobsStorage__queueServiceUri.",
            problem);
    }

    [Fact]
    public void Validation_RefusesTheStart_WithTheProblem()
    {
        using var provider = Services(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("AzureWebJobsStorage__queueServiceUri", Endpoint));

        var refused = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<QueueOptions>>().Value);

        Assert.StartsWith("Settings AzureWebJobsStorage and AzureWebJobsStorage__queueServiceUri are both set;", Assert.Single(refused.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void Validation_RefusesACredentialLifetimeOver7Days_OnlyWithAnIdentity()
    {
        using var identity = Services(("AzureWebJobsStorage__queueServiceUri", Endpoint), ("Nodes__CredentialLifetime", "7.00:00:01"));
        using var accountKey = Services(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("Nodes__CredentialLifetime", "30.00:00:00"));
        using var sevenDays = Services(("AzureWebJobsStorage__queueServiceUri", Endpoint), ("Nodes__CredentialLifetime", "7.00:00:00"));

        var refused = Assert.Throws<OptionsValidationException>(() => identity.GetRequiredService<IOptions<NodeOptions>>().Value);

        Assert.Equal(
            "Setting Nodes__CredentialLifetime must be 7.00:00:00 or less when the queues are reached with an identity (AzureWebJobsStorage__queueServiceUri): "
            + "relays' SAS are then signed with a user delegation key, which lives at most 7 days.",
            Assert.Single(refused.Failures));
        Assert.Equal(TimeSpan.FromDays(30), accountKey.GetRequiredService<IOptions<NodeOptions>>().Value.CredentialLifetime);
        Assert.Equal(TimeSpan.FromDays(7), sevenDays.GetRequiredService<IOptions<NodeOptions>>().Value.CredentialLifetime);
    }

    [Fact]
    public void DevelopmentDefaults_LeaveOutAzurite_WhenTheServiceUriIsSet()
    {
        Assert.Equal("UseDevelopmentStorage=true", DevelopmentDefaults.For(Settings())["AzureWebJobsStorage"]);
        Assert.False(DevelopmentDefaults.For(Settings(("AzureWebJobsStorage__queueServiceUri", Endpoint))).ContainsKey("AzureWebJobsStorage"));
    }

    static ServiceProvider Services(params (string Name, string? Value)[] settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton(Settings(settings));
        services.AddRelayQueues();
        services.AddNodes();
        return services.BuildServiceProvider();
    }
}
