using Automator67.Hosting;
using Automator67.NodeRelay.Docker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Automator67.NodeRelay;

public static class RelayHosting
{
    static readonly IReadOnlyDictionary<string, string?> BuiltInDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
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
}
