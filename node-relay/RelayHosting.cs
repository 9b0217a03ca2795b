using Automator67.Hosting;
using Automator67.NodeRelay.Commands;
using Automator67.NodeRelay.Docker;
using Automator67.NodeRelay.Enrollment;
using Automator67.NodeRelay.Heartbeats;
using Automator67.NodeRelay.Run;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay;

public static class RelayHosting
{
    static readonly IReadOnlyDictionary<string, string?> BuiltInDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        // The queue SDK logs every request at Information: far too much for a loop that polls every few seconds.
        ["Logging:LogLevel:Azure"] = "Warning",
    };

    /// <summary>Creates the relay's host builder: the same settings sources as the control plane (local.settings.json, then the environment).</summary>
    public static HostApplicationBuilder CreateBuilder(string[] args)
    {
        var contentRoot = Directory.GetCurrentDirectory();
        var local = LocalSettings.Load(contentRoot);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = contentRoot,
            EnvironmentName = local.EnvironmentName,
        });
        local.ApplyTo(builder.Configuration, builder.Environment.IsDevelopment(), BuiltInDefaults, new Dictionary<string, string?>(), args);
        return builder;
    }

    /// <summary>The relay's one composition method.</summary>
    public static HostApplicationBuilder AddNodeRelay(this HostApplicationBuilder builder)
    {
        builder.Services.AddSettings<RelayOptions>(RelayOptions.Section);
        builder.Services.AddSingleton<DockerEngine>();
        builder.Services.AddSingleton(TimeProvider.System);
        return builder;
    }

    /// <summary>
    /// <c>node-relay run</c>: the command loop and the heartbeats, as this enrolled node (the state file in
    /// <see cref="RelayOptions.StateDirectory"/>; a relay that is not enrolled stops with one line).
    /// </summary>
    public static HostApplicationBuilder AddRelayWorkers(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(provider =>
        {
            var directory = provider.GetRequiredService<IOptions<RelayOptions>>().Value.StateDirectory;
            var state = RelayState.Load(directory)
                ?? throw new StartupException($"this relay is not enrolled: no {RelayState.PathIn(directory)}; run 'node-relay enroll --url URL --token TOKEN' first, or set Relay__StateDirectory.");
            if (state.SealingPrivateKey is null)
            {
                // Enrolled before sealed secrets existed: make the sealing key now; CredentialRenewer registers it at once.
                state = state.WithSealingKey();
                state.Save(directory);
            }

            return new RelayIdentity(state);
        });
        builder.Services.AddSingleton<RelayQueues>();
        builder.Services.AddSingleton(_ => new HttpClient { Timeout = TimeSpan.FromSeconds(30) });
        builder.Services.AddSingleton<CredentialRenewer>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<CredentialRenewer>());
        builder.Services.AddSingleton<EventSender>();
        builder.Services.AddSingleton<CommandVerifier>();
        builder.Services.AddSingleton<CommandJournal>();
        builder.Services.AddSingleton<CommandExecutor>();
        builder.Services.AddSingleton<ReplicaContainers>();
        builder.Services.AddSingleton<HardeningPolicy>();
        builder.Services.AddSingleton<ImagePuller>();
        builder.Services.AddSingleton<ReplicaRunner>();
        builder.Services.AddSingleton<ReplicaOperations>();
        builder.Services.AddSingleton<Prober>();
        builder.Services.AddSingleton<InventoryCollector>();
        builder.Services.AddHostedService<CommandLoop>();
        builder.Services.AddHostedService<HeartbeatWorker>();
        // SIGTERM waits for running commands (their grace period) and then a little for the abandon.
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<RelayOptions>>((host, relay) =>
            host.ShutdownTimeout = relay.Value.ShutdownGrace + TimeSpan.FromSeconds(10));
        return builder;
    }
}
