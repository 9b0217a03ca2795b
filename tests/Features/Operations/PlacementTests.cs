using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Operations;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Operations;

/// <summary>
/// <see cref="Placement.Place"/>: spread first (fewest replicas of the app), then the least loaded; constraints on
/// node labels; CPU and memory reservations; fixed host ports; and a problem that names what does not fit.
/// </summary>
public sealed class PlacementTests
{
    const long GiB = 1L << 30;

    [Fact]
    public void Place_SpreadsReplicasOverTheNodes_BeforeStackingThem()
    {
        _ = TestEnvironment.TimeCap();
        var nodes = new[] { Node("a"), Node("b"), Node("c") };

        var placed = Placed(Placement.Place(7, Spec(), nodes), nodes);

        Assert.Equal(["a", "b", "c", "a", "b", "c", "a"], placed);
    }

    [Fact]
    public void Place_PrefersTheNodeWithFewestReplicasOfTheApp_ThenTheLeastLoaded()
    {
        _ = TestEnvironment.TimeCap();
        // b carries more of other apps, but a already runs one of this app: spreading the app wins.
        var a = Node("a", appReplicas: 1, reservedMemory: 1 * GiB);
        var b = Node("b", reservedMemory: 6 * GiB, replicas: 12);
        var c = Node("c", reservedMemory: 2 * GiB);

        Assert.Equal(["c", "b", "a"], Placed(Placement.Place(3, Spec(), [a, b, c]), [a, b, c]));
        Assert.Equal(["a"], Placed(Placement.Place(1, Spec(), [a with { AppReplicas = 0 }, b, c]), [a, b, c]));
    }

    [Theory]
    [InlineData("region==eu", "a,c")]
    [InlineData("region!=eu", "b,d")]
    [InlineData("ssd", "a,b")]
    [InlineData("!ssd", "c,d")]
    [InlineData("region==eu|ssd", "a")]
    [InlineData("region!=us|!ssd", "c,d")]
    public void Place_UsesOnlyNodesThatMeetEveryConstraint(string constraints, string eligible)
    {
        _ = TestEnvironment.TimeCap();
        var nodes = LabelledNodes();

        var placed = Placed(Placement.Place(8, Spec(constraints: constraints.Split('|')), nodes), nodes);

        Assert.Equal(eligible.Split(','), placed.Distinct().Order());
    }

    [Fact]
    public void Place_NamesTheConstraintNoNodeMeets()
    {
        _ = TestEnvironment.TimeCap();
        var nodes = LabelledNodes();

        var result = Placement.Place(1, Spec(constraints: ["ssd", "region==mars", "!gpu", "gpu"]), nodes);

        Assert.Null(result.Nodes);
        Assert.Equal("no Ready node meets the constraints 'region==mars', 'gpu' (4 Ready nodes checked).", result.Problem);
        Assert.Equal("no Ready node meets the constraint 'zone' (1 Ready node checked).", Placement.Place(1, Spec(constraints: ["zone"]), [Node("x")]).Problem);
    }

    [Fact]
    public void Place_SaysWhenEachConstraintIsMetSomewhere_ButNoNodeMeetsThemAll()
    {
        _ = TestEnvironment.TimeCap();
        var nodes = LabelledNodes();

        var result = Placement.Place(1, Spec(constraints: ["region==us", "!ssd"]), nodes);

        Assert.Equal("no single Ready node meets all of 'region==us', '!ssd' (4 Ready nodes checked).", result.Problem);
    }

    [Fact]
    public void Place_RefusesWhenNoNodeIsReady()
    {
        _ = TestEnvironment.TimeCap();

        var result = Placement.Place(1, Spec(), []);

        Assert.Null(result.Nodes);
        Assert.StartsWith("no node is Ready", result.Problem, StringComparison.Ordinal);
        Assert.Empty(Placement.Place(0, Spec(), []).Nodes!);
    }

    [Fact]
    public void Place_CountsCpuReservations_AndNamesCpuWhenItRunsOut()
    {
        _ = TestEnvironment.TimeCap();
        var a = Node("a", cpus: 2, reservedCpus: 0.5m);
        var b = Node("b", cpus: 2);
        var spec = Spec(cpus: 0.75m);

        Assert.Equal(["a", "a", "b", "b"], Placed(Placement.Place(4, spec, [a, b]), [a, b]).Order());

        var result = Placement.Place(5, spec, [a, b]);
        Assert.Null(result.Nodes);
        Assert.Equal("only 4 of 5 replicas fit: not enough CPU (resources.cpus 0.75 per replica; the most free on a node is 0.50).", result.Problem);
        Assert.Equal("no Ready node that meets the constraints has room for a replica: not enough CPU (resources.cpus 4 per replica; the most free on a node is 2).",
            Placement.Place(1, Spec(cpus: 4m), [a, b]).Problem);
    }

    [Fact]
    public void Place_CountsMemoryReservations_AndNamesMemoryWhenItRunsOut()
    {
        _ = TestEnvironment.TimeCap();
        var a = Node("a", memory: 1 * GiB, reservedMemory: 768L << 20);
        var b = Node("b", memory: 1 * GiB);
        var spec = Spec(memoryMiB: 256);

        Assert.Equal(["b", "a", "b", "b", "b"], Placed(Placement.Place(5, spec, [a, b]), [a, b]));

        var result = Placement.Place(6, spec, [a, b]);
        Assert.Equal("only 5 of 6 replicas fit: not enough memory (resources.memoryMiB 256 per replica; the most free on a node is 0 MiB).", result.Problem);
        Assert.Equal("no Ready node that meets the constraints has room for a replica: not enough memory (resources.memoryMiB 2048 per replica; the most free on a node is 1024 MiB).",
            Placement.Place(1, Spec(memoryMiB: 2048), [a, b]).Problem);
    }

    [Fact]
    public void Place_NamesTheResourceEachNodeLacks_WhenCpuRunsOutOnOneAndMemoryOnTheOther()
    {
        _ = TestEnvironment.TimeCap();
        var a = Node("a", cpus: 1, reservedCpus: 1m);
        var b = Node("b", memory: 1 * GiB, reservedMemory: 1 * GiB);

        var problem = Placement.Place(1, Spec(cpus: 0.5m, memoryMiB: 64), [a, b]).Problem;

        Assert.Equal("no Ready node that meets the constraints has room for a replica: every eligible node lacks something: "
            + "not enough CPU (resources.cpus 0.5 per replica) on 1 node; not enough memory (resources.memoryMiB 64 per replica) on 1 node.", problem);
    }

    [Fact]
    public void Place_AllowsOneReplicaPerNodeWithAFixedHostPort()
    {
        _ = TestEnvironment.TimeCap();
        var a = Node("a");
        var b = Node("b", hostPorts: ["8080/tcp"]);
        var c = Node("c", hostPorts: ["8080/udp", "9090/tcp"]);
        var spec = Spec(ports: [new ReleasePort(80, 8080)]);

        Assert.Equal(["a", "c"], Placed(Placement.Place(2, spec, [a, b, c]), [a, b, c]).Order());

        var result = Placement.Place(3, spec, [a, b, c]);
        Assert.Null(result.Nodes);
        Assert.Equal("only 2 of 3 replicas fit: host port 8080/tcp is taken on every eligible node (a fixed host port allows one replica per node).", result.Problem);

        // Another protocol is another port; a port chosen by the Engine limits nothing.
        Assert.Equal(3, Placement.Place(3, Spec(ports: [new ReleasePort(80, 8080, ReleasePort.Udp)]), [a, b, Node("d")]).Nodes!.Count);
        Assert.Equal(6, Placement.Place(6, Spec(ports: [new ReleasePort(80)]), [a, b, c]).Nodes!.Count);
    }

    static ReleaseSpec Spec(string[]? constraints = null, decimal? cpus = null, int? memoryMiB = null, ReleasePort[]? ports = null) =>
        new ReleaseSpec("127.0.0.1:5000/a67/sample:v1", Resources: new ReleaseResources(cpus, memoryMiB), Ports: ports ?? [], Constraints: constraints ?? []).Normalize();

    static PlacementNode Node(string name, Dictionary<string, string>? labels = null, int cpus = 4, long memory = 8 * GiB, decimal reservedCpus = 0, long reservedMemory = 0,
        int appReplicas = 0, int replicas = 0, string[]? hostPorts = null) =>
        new(Guid.NewGuid(), name, labels ?? [], cpus, memory, reservedCpus, reservedMemory, appReplicas, Math.Max(replicas, appReplicas), new HashSet<string>(hostPorts ?? []));

    static PlacementNode[] LabelledNodes() =>
    [
        Node("a", new() { ["region"] = "eu", ["ssd"] = "true" }),
        Node("b", new() { ["region"] = "us", ["ssd"] = "true" }),
        Node("c", new() { ["region"] = "eu" }),
        Node("d"),
    ];

    static List<string> Placed(PlacementResult result, IReadOnlyList<PlacementNode> nodes)
    {
        Assert.True(result.Nodes is not null, result.Problem);
        return [.. result.Nodes.Select(id => nodes.Single(n => n.Id == id).Name)];
    }
}
