using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Automator67.Bench;

/// <summary>
/// Swarm's side of the deploy workload: <c>docker service create --replicas N</c> through the Engine's API with what
/// Automator67's release spec says (<see cref="AppDeployments.Spec"/>), then the Engine's containers of the service are
/// listed every <see cref="AppDeployments.PollInterval"/> until N are running and healthy. Swarm's health check runs
/// inside the container (Docker has no other kind), so it is busybox <c>wget</c> on /healthz, at the same interval,
/// timeout and retries as Automator67's HTTP probe from the relay.
/// </summary>
public sealed class SwarmServices(DockerSwarm swarm, BenchSettings settings, string image)
{
    const string ServiceLabel = "com.docker.swarm.service.id";


    /// <summary>
    /// Creates the service and waits until N tasks are healthy at once, or <paramref name="limit"/> has passed. Docker runs
    /// a health check inside the container (an exec), so N replicas checked every second are N execs a second: on a
    /// small host Swarm may never get there (checks time out, tasks are replaced), and the bench must still end.
    /// </summary>
    public async Task<(string Service, DeployTiming Timing)> DeployAsync(string name, int replicas, TimeSpan limit, CancellationToken ct)
    {
        var labels = new Dictionary<string, string> { [BenchSettings.RunLabel] = settings.RunId };
        var spec = new ServiceSpec
        {
            Name = name,
            Labels = labels,
            Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = (ulong)replicas } },
            TaskTemplate = new TaskSpec
            {
                ContainerSpec = new ContainerSpec
                {
                    Image = image,
                    Labels = labels,
                    Env = ["PORT=8080"],
                    Healthcheck = new HealthcheckConfig
                    {
                        Test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"],
                        Interval = TimeSpan.FromSeconds(1),
                        Timeout = TimeSpan.FromSeconds(1),
                        Retries = 3,
                    },
                },
                // The relay's limits for the same spec: 32 MiB, and its default pids bound (Relay__DefaultPidsLimit).
                Resources = new ResourceRequirements { Limits = new SwarmLimit { MemoryBytes = 32L * 1024 * 1024, Pids = 512 } },
                Networks = [new NetworkAttachmentConfig { Target = swarm.NetworkName }],
            },
            // An automatic host port per task, as Automator67's ports [{containerPort: 8080}] gives each replica.
            EndpointSpec = new EndpointSpec { Ports = [new PortConfig { TargetPort = 8080, Protocol = "tcp", PublishMode = "host" }] },
        };

        var start = Stopwatch.GetTimestamp();
        var service = (await swarm.Docker.Swarm.CreateServiceAsync(new ServiceCreateParameters { Service = spec }, ct)).ID
            ?? throw new InvalidOperationException("docker service create answered without a service id");
        TimeSpan? running = null;
        var mostHealthy = 0;
        while (true)
        {
            var containers = await ContainersAsync(swarm.Docker, service, all: false, ct);
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (running is null && containers.Count >= replicas)
            {
                running = elapsed;
            }

            var healthy = containers.Count(c => c.Status.Contains("(healthy)", StringComparison.Ordinal));
            mostHealthy = Math.Max(mostHealthy, healthy);
            if (healthy >= replicas || elapsed > limit)
            {
                // Tasks beyond N are replacements: a task whose container failed its health check is killed and started anew.
                var tasks = await swarm.Docker.Tasks.ListAsync(new TasksListParameters { Filters = Filter("service", service) }, ct);
                var failure = healthy >= replicas ? null : $"not all {replicas} tasks healthy at once within {limit.TotalSeconds:0} s (at most {mostHealthy} were)";
                return (service, new DeployTiming(replicas, failure, elapsed, running, failure is null ? elapsed : null, null, null) { ExtraTasks = Math.Max(0, tasks.Count - replicas), TimedOut = failure is not null });
            }

            await Task.Delay(AppDeployments.PollInterval, ct);
        }
    }

    /// <summary><c>docker service rm</c>, then until the Engine has no container of the service left.</summary>
    public async Task<TimeSpan> RemoveAsync(string service, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        await swarm.Docker.Swarm.RemoveServiceAsync(service, ct);
        return await WaitUntilGoneAsync(swarm.Docker, service, AppDeployments.Limit, ct)
            ? Stopwatch.GetElapsedTime(start)
            : throw new InvalidOperationException($"the containers of Swarm service {service} were still there {AppDeployments.Limit.TotalMinutes} minutes after docker service rm");
    }

    /// <summary>True once no container of the service is left (Swarm removes them in the background after the service goes).</summary>
    public static async Task<bool> WaitUntilGoneAsync(DockerClient docker, string service, TimeSpan limit, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        while ((await ContainersAsync(docker, service, all: true, ct)).Count > 0)
        {
            if (Stopwatch.GetElapsedTime(start) > limit)
            {
                return false;
            }

            await Task.Delay(AppDeployments.PollInterval, ct);
        }

        return true;
    }

    static async Task<IList<ContainerListResponse>> ContainersAsync(DockerClient docker, string service, bool all, CancellationToken ct) =>
        await docker.Containers.ListContainersAsync(new ContainersListParameters { All = all, Filters = Filter("label", $"{ServiceLabel}={service}") }, ct);

    static Dictionary<string, IDictionary<string, bool>> Filter(string name, string value) =>
        new() { [name] = new Dictionary<string, bool> { [value] = true } };
}
