using System.Text.Json;
using Automator67.Hosting;
using Automator67.NodeRelay;
using Automator67.NodeRelay.Docker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

// node-relay: the agent on each Docker host. Enrolment (`enroll`) and the command loop (`run`) arrive with the relay
// issue; `facts` reports what enrolment will send, straight from the local Docker Engine.
const string Usage = """
    usage: node-relay <command>

      facts     print this host's facts (Docker version, CPUs, memory, OS, architecture, hostname) as JSON
      help      show this text

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
