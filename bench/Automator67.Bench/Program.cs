using System.Runtime.InteropServices;
using Automator67.Bench;
using Npgsql;

// Issue 3's, 4's, 5's and 6's benchmarks against the real control plane. auth: login and authenticated-request
// throughput, beside the cost of one password hash and one token validation measured in the same run. relay: a
// command's round trip through real relays (1, then several on one host), beside the raw Docker Engine time of the
// same work, and the relays' CPU and memory at rest. deploy: deployments of 1, 10 and 50 replicas over four relays
// beside Docker Swarm on the same Engine, and the operation engine's ceiling with the Docker work taken out. sweeps:
// one health and one reconcile pass over 10,000 synthetic nodes and 50,000 replicas beside statements over the same
// rows, and heartbeat ingestion through the events queue beside the raw queue. It prints and asserts nothing; it exits
// non-zero only when it could not run (no database, a control plane that does not start, a relay that cannot enrol, a
// scenario with no successful answer).
var settings = BenchSettings.From(args, out var problem);
if (settings is null)
{
    Console.Error.WriteLine(problem is "" ? BenchSettings.Usage : $"bench: {problem}\n{BenchSettings.Usage}");
    return problem is "" ? 0 : 2;
}

foreach (var assembly in settings.RunsRelay || settings.RunsDeploy ? [settings.ControlPlaneAssembly, settings.RelayAssembly] : new[] { settings.ControlPlaneAssembly })
{
    if (!File.Exists(assembly))
    {
        Console.Error.WriteLine($"bench: {assembly} is missing; build first (dotnet build -c {settings.Configuration}, or ./a67 bench)");
        return 1;
    }
}

// Ctrl+C or SIGTERM cancels the run; the await-using scopes below still stop the relays and the control plane, and
// remove the containers, the queues and the database.
using var cancel = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);

Report.Header(settings);
try
{
    return await RunAsync(settings, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("bench: interrupted");
    return 130;
}
catch (Exception ex) when (ex is NpgsqlException or Azure.RequestFailedException or HttpRequestException or InvalidOperationException or Docker.DotNet.DockerApiException)
{
    Console.Error.WriteLine($"bench: {ex.Message} (is the local stack up? ./a67 up)");
    return 1;
}

void Interrupt(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}

static async Task<int> RunAsync(BenchSettings settings, CancellationToken ct)
{
    await using var resources = await RunResources.CreateAsync(settings, ct);
    await using var controlPlane = ControlPlaneProcess.Start(settings, resources);
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Concurrency, UseCookies = false })
    {
        BaseAddress = controlPlane.BaseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };
    if (!await controlPlane.WaitUntilReadyAsync(http, TimeSpan.FromSeconds(60), ct))
    {
        var exit = controlPlane.ExitCode is { } code ? $"exited with code {code}" : "did not answer 200 on /readyz within 60 s";
        Console.Error.WriteLine($"bench: the control plane {exit}; its last output:");
        Console.Error.WriteLine(controlPlane.LastLines(10));
        return 1;
    }

    controlPlane.ClearOutput();
    var answered = true;
    if (settings.RunsAuth)
    {
        answered &= await RunAuthAsync(settings, resources, controlPlane, http, ct);
    }

    if (settings.RunsRelay)
    {
        var relay = await RelayWorkload.RunAsync(settings, resources, controlPlane, http, ct);
        RelayReport.Print(relay);
        answered &= relay.Phases.All(p => p.Load.Timings.Count > 0);
    }

    if (settings.RunsDeploy)
    {
        var deploy = await DeployWorkload.RunAsync(settings, resources, controlPlane, http, ct);
        DeployReport.Print(deploy);
        answered &= deploy.Rows.Any(r => r.Ours.Failure is null) && deploy.Ceiling.Counts.Steps > 0;
    }

    if (settings.RunsSweeps)
    {
        var sweeps = await SweepWorkload.RunAsync(settings, resources, controlPlane, ct);
        SweepReport.Print(sweeps);
        answered &= sweeps.Ingestion.Applied > 0;
    }

    Report.ControlPlaneOutput(controlPlane);
    return answered ? 0 : 1;
}

static async Task<bool> RunAuthAsync(BenchSettings settings, RunResources resources, ControlPlaneProcess controlPlane, HttpClient http, CancellationToken ct)
{
    var baselines = await Baselines.MeasureAsync(resources.KeyDirectory, ct);
    Report.Baselines(baselines);

    var workload = await AuthWorkload.SignUpAsync(http, settings.RunId, settings.Concurrency, ct);
    var load = new LoadGenerator(http, controlPlane, new DatabaseCpu(settings.Postgres, settings.DatabaseName), settings.Concurrency);
    var login = await load.RunAsync("POST /api/auth/login", workload.Login, settings.Warmup, settings.Duration, ct);
    var me = await load.RunAsync("GET /api/auth/me", workload.Me, settings.Warmup, settings.Duration, ct);
    var healthz = await load.RunAsync("GET /healthz", _ => AuthWorkload.Healthz(), settings.Warmup, settings.Duration, ct);

    Report.Load(settings.Concurrency, [login, me, healthz]);
    Report.Ratios(baselines, login, me, healthz, settings.Concurrency);
    return login.Timings.Count > 0 && me.Timings.Count > 0 && healthz.Timings.Count > 0;
}
