using System.Reflection;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Alerts;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Operations;
using Automator67.Functions.Features.Sweeps;
using Automator67.Functions.Features.Relay;
using Automator67.Functions.Features.Secrets;
using Automator67.Functions.Features.Auth.Abuse;
using Automator67.Functions.Features.GitHub;
using Automator67.Functions.Features.Metrics;
using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Functions.Hosting;
using Automator67.Functions.Queues;
using Automator67.Hosting;
using Automator67.NodeRelay;
using Automator67.Orchestrations.Runtime;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Automator67.Tests.Hosting;

/// <summary>local.settings.sample.json is the settings reference: it must parse and name every setting there is.</summary>
public sealed class SampleSettingsTests
{
    static readonly string SamplePath = Path.Combine(TestEnvironment.RepositoryRoot, "local.settings.sample.json");

    public static TheoryData<Type, string> OptionsClasses => new()
    {
        { typeof(ControlPlaneOptions), ControlPlaneOptions.Section },
        { typeof(QueueOptions), QueueOptions.Section },
        { typeof(OrchestrationOptions), OrchestrationOptions.Section },
        { typeof(RelayOptions), RelayOptions.Section },
        { typeof(DatabaseOptions), DatabaseOptions.Section },
        { typeof(AuthOptions), AuthOptions.Section },
        { typeof(NodeOptions), NodeOptions.Section },
        { typeof(RelayEventsOptions), RelayEventsOptions.Section },
        { typeof(OperationOptions), OperationOptions.Section },
        { typeof(RateLimitOptions), RateLimitOptions.Section },
        { typeof(GitHubOptions), GitHubOptions.Section },
        { typeof(TwoFactorOptions), TwoFactorOptions.Section },
        { typeof(SecretsOptions), SecretsOptions.Section },
        { typeof(AlertOptions), AlertOptions.Section },
        { typeof(SweepOptions), SweepOptions.Section },
        { typeof(MetricsOptions), MetricsOptions.Section },
    };

    [Theory]
    [MemberData(nameof(OptionsClasses))]
    public void Sample_ListsEverySetting_OfEachOptionsClass(Type options, string section)
    {
        var sample = LocalSettings.Read(SamplePath);

        var settable = options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);
        foreach (var property in settable)
        {
            Assert.True(sample.ContainsKey($"{section}:{property.Name}"), $"local.settings.sample.json lacks {section}__{property.Name}");
        }
    }

    [Fact]
    public void Sample_NamesTheStorageConnection_AndTheFunctionsPort()
    {
        var sample = LocalSettings.Read(SamplePath);

        Assert.Equal("UseDevelopmentStorage=true", sample[QueueOptions.ConnectionSetting]);
        Assert.Equal("7071", sample["ControlPlane:Port"]);
    }

    [Fact]
    public void Sample_ListsTheIdentitySettings_Empty_SoTheConnectionStringIsUsed()
    {
        var sample = LocalSettings.Read(SamplePath);
        var connection = QueueConnection.Read(new ConfigurationBuilder().AddInMemoryCollection(sample).Build());

        foreach (var setting in new[] { QueueConnection.ServiceUriSetting, QueueConnection.CredentialSetting, QueueConnection.ClientIdSetting })
        {
            Assert.Equal("", sample[setting.Replace("__", ":", StringComparison.Ordinal)]);
        }

        Assert.Null(connection.Problem);
        Assert.False(connection.UsesIdentity);
    }
}
