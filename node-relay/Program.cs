using System.Text.Json;
using Automator67.Hosting;
using Automator67.NodeRelay;
using Automator67.NodeRelay.Docker;
using Automator67.NodeRelay.Enrollment;
using Automator67.NodeRelay.Run;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// node-relay: the agent on each Docker host. `enroll` trades a join token for this node's identity; `run` executes
// its signed commands and sends heartbeats; `facts` reports what enrolment sends, straight from the local Docker Engine.
const string Usage = """
    usage: node-relay <command>

      enroll --url URL --token TOKEN   enrol this host with the control plane at URL (a one-time join token)
      run                              execute this node's signed commands and send heartbeats, until SIGTERM
      facts                            print this host's facts (Docker version, CPUs, memory, OS, architecture, hostname) as JSON
      version                          print the relay's version
      help                             show this text

    Settings come from local.settings.json (Values, "__" between sections) and then the environment,
    e.g. Relay__DockerEndpoint=unix:///var/run/docker.sock.
    """;

return await StartupErrors.RunAsync("node-relay", async () =>
{
    var command = args.FirstOrDefault() ?? "help";
    switch (command)
    {
        case "facts":
            await PrintFactsAsync(args[1..]);
            break;
        case "enroll":
            await EnrollAsync(args[1..]);
            break;
        case "run":
            await RunAsync(args[1..]);
            break;
        case "version" or "--version":
            Console.WriteLine($"node-relay {RelayVersion()}");
            break;
        case "help" or "--help" or "-h":
            Console.WriteLine(Usage);
            break;
        default:
            throw new StartupException($"unknown command '{command}'; run 'node-relay help' for the list.");
    }
});

static async Task PrintFactsAsync(string[] args)
{
    var builder = RelayHosting.CreateBuilder(args).AddNodeRelay();
    using var host = builder.Build();
    var docker = host.Services.GetRequiredService<DockerEngine>();
    var endpoint = host.Services.GetRequiredService<IOptions<RelayOptions>>().Value.DockerEndpoint;
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    try
    {
        var facts = await docker.ReadHostFactsAsync(timeout.Token);
        Console.WriteLine(JsonSerializer.Serialize(facts, new JsonSerializerOptions(JsonSerializerOptions.Web)
        {
            WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a terminal, not a web page
        }));
    }
    catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException)
    {
        throw new StartupException($"cannot reach the Docker Engine at {endpoint} ({ex.GetBaseException().Message}); start dockerd or set Relay__DockerEndpoint.");
    }
}

static async Task EnrollAsync(string[] args)
{
    var url = Option(args, "--url");
    var token = Option(args, "--token");
    if (url is null || token is null)
    {
        throw new StartupException("enroll needs --url URL and --token TOKEN (create a join token with POST /api/nodes/join-tokens).");
    }

    if (!Uri.TryCreate(url, UriKind.Absolute, out var controlPlane) || controlPlane.Scheme is not ("http" or "https"))
    {
        throw new StartupException($"--url must be the control plane's http(s) address, not '{url}'.");
    }

    var builder = RelayHosting.CreateBuilder(args).AddNodeRelay();
    using var host = builder.Build();
    var settings = host.Services.GetRequiredService<IOptions<RelayOptions>>().Value;
    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
    var enroll = new EnrollCommand(host.Services.GetRequiredService<DockerEngine>(), http, TimeProvider.System);
    var state = await enroll.RunAsync(controlPlane, token, settings.StateDirectory, timeout.Token);
    Console.WriteLine($"enrolled as node {state.Name} ({state.NodeId}); identity kept in {RelayState.PathIn(settings.StateDirectory)}");
}

static async Task RunAsync(string[] args)
{
    var builder = RelayHosting.CreateBuilder(args).AddNodeRelay().AddRelayWorkers();
    using var host = builder.Build();
    // Settings and the state file first, so a relay that cannot run says why in one line instead of starting.
    _ = host.Services.GetRequiredService<IOptions<RelayOptions>>().Value;
    var identity = host.Services.GetRequiredService<RelayIdentity>();
    Console.WriteLine($"node-relay: running as node {identity.State.Name} ({identity.NodeId})");
    await host.RunAsync();
}

// The informational version: the release number, and the commit when built from a git checkout.
static string RelayVersion() =>
    typeof(RelayOptions).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";

// "--name value" from the arguments, or null.
static string? Option(string[] args, string name)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
