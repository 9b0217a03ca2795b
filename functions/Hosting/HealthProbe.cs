using Automator67.Hosting;

namespace Automator67.Functions.Hosting;

/// <summary>
/// <c>Automator67.Functions healthcheck</c>: asks this instance's own <c>/healthz</c> (port and bind address from the
/// same settings the server reads) and exits 0 when it answers 200, 1 otherwise, with one line saying why. It is the
/// container image's HEALTHCHECK: the .NET base images carry no curl or wget, and installing one for a probe would add
/// a package to patch; the app's own binary is already there. It builds no host, so it costs a short process start.
/// </summary>
public static class HealthProbe
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(string[] args)
    {
        ControlPlaneOptions options;
        try
        {
            options = ReadOptions(args);
        }
        catch (StartupException ex)
        {
            await Console.Error.WriteLineAsync($"unhealthy: {ex.Message}");
            return 1;
        }

        // A wildcard bind answers on loopback; a specific address only on itself.
        var probe = new ControlPlaneOptions
        {
            Port = options.Port,
            BindAddress = options.BindAddress switch { "0.0.0.0" => "127.0.0.1", "::" => "::1", var address => address },
        };
        var url = $"{probe.Url}/healthz";
        using var http = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await http.GetAsync(url);
            if (response.IsSuccessStatusCode)
            {
                Console.WriteLine($"healthy: {url} answered {(int)response.StatusCode}");
                return 0;
            }

            await Console.Error.WriteLineAsync($"unhealthy: {url} answered {(int)response.StatusCode}");
            return 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"unhealthy: {url} did not answer ({ex.GetBaseException().Message})");
            return 1;
        }
    }

    static ControlPlaneOptions ReadOptions(string[] args)
    {
        var configuration = new ConfigurationManager();
        LocalSettings.Load(Directory.GetCurrentDirectory())
            .ApplyTo(configuration, isDevelopment: false, new Dictionary<string, string?>(), new Dictionary<string, string?>(), args.Skip(1).ToArray());
        return configuration.GetSection(ControlPlaneOptions.Section).Get<ControlPlaneOptions>() ?? new ControlPlaneOptions();
    }
}
