using System.Text.Json;
using Automator67.Functions.Features.Apps;

namespace Automator67.Tests.Features.Apps;

/// <summary>Every rule of the release spec, each with the JSON path its problem must name.</summary>
public sealed class ReleaseSpecValidationTests
{
    const string Image = "127.0.0.1:5000/a67/sample:v1";

    // The spec as the API binds it: camelCase, unknown fields refused, defaults from the records.
    static readonly JsonSerializerOptions Http = new(JsonSerializerDefaults.Web) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    /// <summary>A spec with the sample image and <paramref name="fields"/> (JSON members, without braces).</summary>
    static ReleaseSpec Spec(string fields) =>
        JsonSerializer.Deserialize<ReleaseSpec>($$"""{"image":"{{Image}}"{{(fields.Length > 0 ? "," : "")}}{{fields}}}""", Http)!;

    static string Many(string item, int count) => string.Join(",", Enumerable.Repeat(item, count));

    static string ManyNumbered(string format, int count) => string.Join(",", Enumerable.Range(1, count).Select(i => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, i)));

    public static TheoryData<string, string> Invalid => new()
    {
        // registry
        { """ "registry":"-private" """, "registry" },
        { """ "registry":"my registry" """, "registry" },
        { """ "registry":"" """, "registry" },
        // secrets: variable -> secret name, both variable names, not also in env
        { """ "secrets":{"1BAD":"DB"} """, "secrets" },
        { """ "secrets":{"DB_PASSWORD":"db-password"} """, "secrets.DB_PASSWORD" },
        { """ "secrets":{"DB_PASSWORD":""} """, "secrets.DB_PASSWORD" },
        { """ "env":{"PORT":"1"}, "secrets":{"PORT":"PORT"} """, "secrets.PORT" },
        { $$""" "secrets":{{{ManyNumbered("\"V{0}\":\"S\"", 65)}}} """, "secrets" },
        // command and args
        { """ "command":[] """, "command" },
        { """ "command":[""] """, "command[0]" },
        { """ "command":["sh","a\u0000b"] """, "command[1]" },
        { $$""" "command":[{{Many("\"x\"", 65)}}] """, "command" },
        { $$""" "command":["{{new string('x', 4097)}}"] """, "command[0]" },
        { """ "args":[] """, "args" },
        { """ "args":["ok",null] """, "args[1]" },
        { """ "args":["a\u0000"] """, "args[0]" },
        { $$""" "args":[{{Many("\"x\"", 257)}}] """, "args" },
        // env
        { """ "env":{"1BAD":"x"} """, "env" },
        { """ "env":{"A-B":"x"} """, "env" },
        { """ "env":{"":"x"} """, "env" },
        { """ "env":{"GOOD":"nul\u0000"} """, "env.GOOD" },
        { """ "env":{"GOOD":null} """, "env.GOOD" },
        { $$""" "env":{"BIG":"{{new string('x', 8193)}}"} """, "env.BIG" },
        { $$""" "env":{{{ManyNumbered("\"V{0}\":\"x\"", 257)}}} """, "env" },
        // ports
        { """ "ports":[{"containerPort":0}] """, "ports[0].containerPort" },
        { """ "ports":[{}] """, "ports[0].containerPort" },
        { """ "ports":[{"containerPort":65536}] """, "ports[0].containerPort" },
        { """ "ports":[{"containerPort":80,"hostPort":0}] """, "ports[0].hostPort" },
        { """ "ports":[{"containerPort":80,"hostPort":70000}] """, "ports[0].hostPort" },
        { """ "ports":[{"containerPort":80,"protocol":"sctp"}] """, "ports[0].protocol" },
        { """ "ports":[{"containerPort":80,"protocol":"TCP"}] """, "ports[0].protocol" },
        { """ "ports":[{"containerPort":80},{"containerPort":80,"protocol":"tcp"}] """, "ports[1].containerPort" },
        { """ "ports":[{"containerPort":80,"hostPort":8080},{"containerPort":81,"hostPort":8080}] """, "ports[1].hostPort" },
        { """ "ports":[{"containerPort":53},{"containerPort":80},{"containerPort":53,"protocol":"udp"},{"containerPort":54,"protocol":"udp"},{"containerPort":53,"protocol":"udp"}] """, "ports[4].containerPort" },
        { """ "ports":[null] """, "ports[0]" },
        { $$""" "ports":[{{ManyNumbered("{{\"containerPort\":{0}}}", 65)}}] """, "ports" },
        // resources
        { """ "resources":{"cpus":0} """, "resources.cpus" },
        { """ "resources":{"cpus":-1} """, "resources.cpus" },
        { """ "resources":{"cpus":0.005} """, "resources.cpus" },
        { """ "resources":{"cpus":64.5} """, "resources.cpus" },
        { """ "resources":{"cpus":1.2345} """, "resources.cpus" },
        { """ "resources":{"memoryMiB":5} """, "resources.memoryMiB" },
        { """ "resources":{"memoryMiB":0} """, "resources.memoryMiB" },
        { """ "resources":{"memoryMiB":1048577} """, "resources.memoryMiB" },
        { """ "resources":{"pids":15} """, "resources.pids" },
        { """ "resources":{"pids":1000001} """, "resources.pids" },
        // replicas
        { """ "replicas":-1 """, "replicas" },
        { """ "replicas":101 """, "replicas" },
        // health check
        { """ "healthCheck":{"kind":"grpc"} """, "healthCheck.kind" },
        { """ "healthCheck":{} """, "healthCheck.kind" },
        { """ "healthCheck":{"kind":"HTTP","port":8080}, "ports":[{"containerPort":8080}] """, "healthCheck.kind" },
        { """ "healthCheck":{"kind":"http"}, "ports":[{"containerPort":8080}] """, "healthCheck.port" },
        { """ "healthCheck":{"kind":"http","port":9090}, "ports":[{"containerPort":8080}] """, "healthCheck.port" },
        { """ "healthCheck":{"kind":"tcp","port":8080} """, "healthCheck.port" },
        { """ "healthCheck":{"kind":"tcp","port":53}, "ports":[{"containerPort":53,"protocol":"udp"}] """, "healthCheck.port" },
        { """ "healthCheck":{"kind":"http","port":8080,"path":"healthz"}, "ports":[{"containerPort":8080}] """, "healthCheck.path" },
        { """ "healthCheck":{"kind":"http","port":8080,"path":"/a b"}, "ports":[{"containerPort":8080}] """, "healthCheck.path" },
        { """ "healthCheck":{"kind":"http","port":8080,"path":""}, "ports":[{"containerPort":8080}] """, "healthCheck.path" },
        { $$""" "healthCheck":{"kind":"http","port":8080,"path":"/{{new string('a', 1024)}}"}, "ports":[{"containerPort":8080}] """, "healthCheck.path" },
        { """ "healthCheck":{"kind":"http","port":8080,"command":["true"]}, "ports":[{"containerPort":8080}] """, "healthCheck.command" },
        { """ "healthCheck":{"kind":"tcp","port":8080,"path":"/"}, "ports":[{"containerPort":8080}] """, "healthCheck.path" },
        { """ "healthCheck":{"kind":"exec"} """, "healthCheck.command" },
        { """ "healthCheck":{"kind":"exec","command":[]} """, "healthCheck.command" },
        { """ "healthCheck":{"kind":"exec","command":[""]} """, "healthCheck.command[0]" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"port":8080}, "ports":[{"containerPort":8080}] """, "healthCheck.port" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"path":"/"} """, "healthCheck.path" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"intervalSeconds":0} """, "healthCheck.intervalSeconds" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"intervalSeconds":301} """, "healthCheck.intervalSeconds" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"timeoutSeconds":0} """, "healthCheck.timeoutSeconds" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"intervalSeconds":300,"timeoutSeconds":61} """, "healthCheck.timeoutSeconds" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"intervalSeconds":5,"timeoutSeconds":6} """, "healthCheck.timeoutSeconds" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"retries":0} """, "healthCheck.retries" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"retries":11} """, "healthCheck.retries" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"startPeriodSeconds":-1} """, "healthCheck.startPeriodSeconds" },
        { """ "healthCheck":{"kind":"exec","command":["true"],"startPeriodSeconds":601} """, "healthCheck.startPeriodSeconds" },
        // restart policy
        { """ "restartPolicy":{"name":"sometimes"} """, "restartPolicy.name" },
        { """ "restartPolicy":{"name":null} """, "restartPolicy.name" },
        { """ "restartPolicy":{"name":"on-failure","maximumRetryCount":-1} """, "restartPolicy.maximumRetryCount" },
        { """ "restartPolicy":{"name":"on-failure","maximumRetryCount":1001} """, "restartPolicy.maximumRetryCount" },
        { """ "restartPolicy":{"name":"always","maximumRetryCount":3} """, "restartPolicy.maximumRetryCount" },
        { """ "restartPolicy":{"maximumRetryCount":3} """, "restartPolicy.maximumRetryCount" },
        // constraints
        { """ "constraints":["region=eu"] """, "constraints[0]" },
        { """ "constraints":["region == eu"] """, "constraints[0]" },
        { """ "constraints":["region>1"] """, "constraints[0]" },
        { """ "constraints":["!!region"] """, "constraints[0]" },
        { """ "constraints":["==eu"] """, "constraints[0]" },
        { """ "constraints":["Region==eu"] """, "constraints[0]" },
        { """ "constraints":["region=="] """, "constraints[0]" },
        { """ "constraints":["region==a\u0007"] """, "constraints[0]" },
        { """ "constraints":["!"] """, "constraints[0]" },
        { """ "constraints":[""] """, "constraints[0]" },
        { """ "constraints":[null] """, "constraints[0]" },
        { """ "constraints":["region==eu","gpu in (a100)"] """, "constraints[1]" },
        { $$""" "constraints":[{{Many("\"ssd\"", 33)}}] """, "constraints" },
        // rollout
        { """ "rollout":{"maxSurge":-1} """, "rollout.maxSurge" },
        { """ "rollout":{"maxSurge":101} """, "rollout.maxSurge" },
        { """ "rollout":{"maxUnavailable":-1} """, "rollout.maxUnavailable" },
        { """ "rollout":{"maxUnavailable":101} """, "rollout.maxUnavailable" },
        { """ "rollout":{"maxSurge":0} """, "rollout" },
        { """ "rollout":{"maxSurge":0,"maxUnavailable":0} """, "rollout" },
        // the whole spec travels in one queue message
        { $$""" "env":{{{ManyNumbered($"\"V{{0}}\":\"{new string('x', 8000)}\"", 5)}}} """, "body" },
        { $$""" "args":[{{Many($"\"{new string('x', 4000)}\"", 9)}}] """, "body" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_NamesTheJsonPath_OfEachRuleBroken(string fields, string path)
    {
        var problems = ReleaseSpecValidation.Validate(Spec(fields.Trim()));

        Assert.Equal([path], problems.Keys);
        Assert.All(problems[path], message => Assert.False(string.IsNullOrWhiteSpace(message)));
    }

    public static TheoryData<string> Valid => new()
    {
        "",
        """ "replicas":0 """,
        """ "replicas":100, "rollout":{"maxSurge":0,"maxUnavailable":1} """,
        """ "registry":"local-registry.1_a", "command":["/bin/httpd"], "args":["-f","-p","8080",""] """,
        """ "env":{"PORT":"8080","_X1":"","GREETING":"héllo = world"} """,
        """ "ports":[{"containerPort":53},{"containerPort":53,"protocol":"udp"},{"containerPort":80,"hostPort":8080},{"containerPort":81,"hostPort":8080,"protocol":"udp"},{"containerPort":82,"hostPort":null}] """,
        """ "resources":{"cpus":0.01,"memoryMiB":6,"pids":16} """,
        """ "resources":{"cpus":64,"memoryMiB":1048576,"pids":1000000} """,
        """ "resources":{"cpus":1.125,"memoryMiB":null,"pids":null} """,
        """ "healthCheck":{"kind":"http","port":8080,"path":"/healthz?full=1"}, "ports":[{"containerPort":8080}] """,
        """ "healthCheck":{"kind":"tcp","port":8080,"intervalSeconds":300,"timeoutSeconds":60,"retries":10,"startPeriodSeconds":600}, "ports":[{"containerPort":8080,"protocol":"tcp"}] """,
        """ "healthCheck":{"kind":"exec","command":["cat","/tmp/ready"],"intervalSeconds":1,"timeoutSeconds":1,"retries":1} """,
        """ "restartPolicy":{"name":"on-failure","maximumRetryCount":5} """,
        """ "restartPolicy":{"name":"no"} """,
        """ "restartPolicy":{"name":"always","maximumRetryCount":0} """,
        """ "constraints":["region==eu","tier!=batch","ssd","!gpu","a.b/c-d_e==x==y"] """,
        """ "rollout":{"maxSurge":100,"maxUnavailable":100} """,
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Validate_AcceptsAValidSpec_AndItsNormalForm(string fields)
    {
        var spec = Spec(fields.Trim());

        Assert.Empty(ReleaseSpecValidation.Validate(spec));
        Assert.Empty(ReleaseSpecValidation.Validate(spec.Normalize()));
        Assert.Equal(ReleaseSpecJson.Serialize(spec.Normalize()), ReleaseSpecJson.Serialize(spec.Normalize().Normalize()));
    }

    public static TheoryData<string?, string> BadImages => new()
    {
        { null, "required" },
        { "", "required" },
        { "a67/Sample:v1", "'Sample' must be lower-case" },
        { "a67/sample:v1 ", "spaces" },
        { "a67//sample", "empty part" },
        { "a67/sample/", "empty part" },
        { "/a67/sample", "empty part" },
        { "a67/sam--ple_", "'sam--ple_' must be lower-case letters and digits" },
        { "a67/-sample", "'-sample'" },
        { "a67/sample:", "the tag ''" },
        { "a67/sample:.v1", "the tag '.v1'" },
        { "a67/sample:v1+build", "the tag 'v1+build'" },
        { $"a67/sample:{new string('v', 129)}", "1-128" },
        { "a67/sample@sha256:abc", "digest 'sha256:abc'" },
        { "a67/sample@md5:" + new string('a', 32), "'sha256:'" },
        { "a67/sample@sha256:" + new string('A', 64), "lower-case hex" },
        { ":v1", "no name" },
        { "127.0.0.1:99999/a67/sample", "registry port '99999'" },
        { "127.0.0.1:port/a67/sample", "registry port 'port'" },
        { "my_registry.io/a67/sample", "registry host 'my_registry.io'" },
        { "-registry.io/a67/sample", "registry host '-registry.io'" },
        { "[::1/a67/sample", "registry '[::1'" },
        { "127.0.0.1:5000/", "empty part" },
        { "a67/" + new string('a', 252), "at most 255" },
    };

    [Theory]
    [MemberData(nameof(BadImages))]
    public void Validate_SaysWhichPartOfTheImageIsWrong(string? image, string expected)
    {
        var problems = ReleaseSpecValidation.Validate(new ReleaseSpec(image));

        Assert.Equal(["image"], problems.Keys);
        Assert.Contains(expected, Assert.Single(problems["image"]), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sample", null, "sample", null, null)]
    [InlineData("a67/sample:v1", null, "a67/sample", "v1", null)]
    [InlineData("127.0.0.1:5000/a67/sample:v1", "127.0.0.1:5000", "a67/sample", "v1", null)]
    [InlineData("localhost/sample", "localhost", "sample", null, null)]
    [InlineData("localhost:5000/sample:V1.0_rc-1", "localhost:5000", "sample", "V1.0_rc-1", null)]
    [InlineData("registry.example.com/team/app-api__v2.x", "registry.example.com", "team/app-api__v2.x", null, null)]
    [InlineData("[::1]:5000/sample:v1", "[::1]:5000", "sample", "v1", null)]
    [InlineData("Registry.Example.com/sample", "Registry.Example.com", "sample", null, null)]
    [InlineData("sample:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", null, "sample", "v1",
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void ImageReference_ParsesEachPart(string text, string? registry, string path, string? tag, string? digest)
    {
        Assert.True(ImageReference.TryParse(text, out var reference, out var problem), problem);

        Assert.Equal(new ImageReference(registry, path, tag, digest), reference);
        Assert.Equal(text, reference.ToString());
    }

    [Fact]
    public void Validate_NamesHealthCheckPortsTheAppDoesNotExpose()
    {
        var problems = ReleaseSpecValidation.Validate(Spec(""" "healthCheck":{"kind":"http","port":9090}, "ports":[{"containerPort":8080},{"containerPort":8081}] """.Trim()));

        Assert.Equal("port 9090 is not a port the app exposes: use one of its tcp containerPorts (8080, 8081).", Assert.Single(problems["healthCheck.port"]));
    }

    [Fact]
    public void Validate_ReportsEveryProblem_NotJustTheFirst()
    {
        var problems = ReleaseSpecValidation.Validate(Spec(""" "replicas":-1, "ports":[{"containerPort":0}], "resources":{"memoryMiB":1}, "constraints":["x=y"] """.Trim()));

        Assert.Equal(["ports[0].containerPort", "resources.memoryMiB", "replicas", "constraints[0]"], problems.Keys);
        Assert.Contains("unknown constraint syntax 'x=y'", Assert.Single(problems["constraints[0]"]), StringComparison.Ordinal);
        Assert.Contains("Docker's minimum", Assert.Single(problems["resources.memoryMiB"]), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AnswersTheExampleInDocsAppsMd_WordForWord()
    {
        var problems = ReleaseSpecValidation.Validate(Spec("""
            "ports":[{"containerPort":8080},{"containerPort":8080}], "resources":{"memoryMiB":4}, "replicas":-1,
            "healthCheck":{"kind":"http","port":9090}, "constraints":["region=eu"]
            """));

        Assert.Equal(new Dictionary<string, string[]>
        {
            ["ports[1].containerPort"] = ["containerPort 8080/tcp is listed already, at ports[0]."],
            ["resources.memoryMiB"] = ["memoryMiB must be between 6 (Docker's minimum) and 1048576, or null for no limit."],
            ["replicas"] = ["replicas must be between 0 and 100 (0 keeps the app deployed with nothing running)."],
            ["healthCheck.port"] = ["port 9090 is not a port the app exposes: use one of its tcp containerPorts (8080)."],
            ["constraints[0]"] = ["constraints[0]: unknown constraint syntax 'region=eu': use key==value, key!=value, key (the label exists) or !key (it does not)."],
        }, problems);
    }

    [Fact]
    public void Validate_PrefixesPaths_WhenTheSpecIsPartOfALargerBody()
    {
        Assert.Equal(["spec.rollout.maxSurge"], ReleaseSpecValidation.Validate(Spec(""" "rollout":{"maxSurge":-1} """.Trim()), "spec").Keys);
        Assert.Equal(["spec"], ReleaseSpecValidation.Validate(null, "spec").Keys);
        Assert.Equal(["body"], ReleaseSpecValidation.Validate(null).Keys);
    }

    [Fact]
    public void Normalize_WritesOutEveryDefault()
    {
        var spec = Spec(""" "ports":[{"containerPort":8080}], "healthCheck":{"kind":"http","port":8080} """.Trim()).Normalize();

        Assert.Equal("127.0.0.1:5000/a67/sample:v1", spec.Image);
        Assert.Equal(1, spec.Replicas);
        Assert.Empty(spec.Env!);
        Assert.Empty(spec.Secrets!);
        Assert.Empty(spec.Constraints!);
        Assert.Null(spec.Command);
        Assert.Null(spec.Args);
        Assert.Null(spec.Registry);
        Assert.Equal(new ReleasePort(8080, null, "tcp"), Assert.Single(spec.Ports!));
        Assert.Equal(new ReleaseResources(null, null, null), spec.Resources);
        Assert.Equal(new ReleaseHealthCheck("http", 8080, "/", null, 5, 2, 3, 0), spec.HealthCheck);
        Assert.Equal(new ReleaseRestartPolicy("unless-stopped", 0), spec.RestartPolicy);
        Assert.Equal(new ReleaseRollout(1, 0), spec.Rollout);
        Assert.Equal(
            """{"image":"127.0.0.1:5000/a67/sample:v1","registry":null,"command":null,"args":null,"env":{},"secrets":{},"ports":[{"containerPort":8080,"hostPort":null,"protocol":"tcp"}],"resources":{"cpus":null,"memoryMiB":null,"pids":null},"replicas":1,"healthCheck":{"kind":"http","port":8080,"path":"/","command":null,"intervalSeconds":5,"timeoutSeconds":2,"retries":3,"startPeriodSeconds":0},"restartPolicy":{"name":"unless-stopped","maximumRetryCount":0},"constraints":[],"rollout":{"maxSurge":1,"maxUnavailable":0}}""",
            ReleaseSpecJson.Serialize(spec));
    }

    [Theory]
    [InlineData("127.0.0.1:5000/a67/sample", "127.0.0.1:5000/a67/sample:latest")]
    [InlineData("sample", "sample:latest")]
    [InlineData("sample:v1", "sample:v1")]
    [InlineData("sample@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sample@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Normalize_TagsAnImageWithNeitherTagNorDigest_Latest(string image, string normalized) =>
        Assert.Equal(normalized, new ReleaseSpec(image).Normalize().Image);

    [Fact]
    public void Normalize_LeavesPathOutOfTcpAndExecChecks_AndKeepsWhatWasGiven()
    {
        var exec = new ReleaseSpec(Image, HealthCheck: new ReleaseHealthCheck("exec", Command: ["true"], IntervalSeconds: 10)).Normalize();
        var tcp = new ReleaseSpec(Image, Ports: [new ReleasePort(80)], HealthCheck: new ReleaseHealthCheck("tcp", 80)).Normalize();

        Assert.Equal(new ReleaseHealthCheck("exec", null, null, exec.HealthCheck!.Command, 10, 2, 3, 0), exec.HealthCheck);
        Assert.Null(tcp.HealthCheck!.Path);
    }

    [Fact]
    public void HealthCheckWithoutTimeout_ProbedEverySecond_IsValid_AndTimesOutWithinTheInterval()
    {
        var spec = Spec(""" "ports":[{"containerPort":8080}], "healthCheck":{"kind":"http","port":8080,"intervalSeconds":1} """.Trim());

        Assert.Empty(ReleaseSpecValidation.Validate(spec));
        Assert.Equal(1, spec.Normalize().HealthCheck!.TimeoutSeconds);
        Assert.Equal(2, Spec(""" "ports":[{"containerPort":8080}], "healthCheck":{"kind":"http","port":8080,"intervalSeconds":3} """.Trim()).Normalize().HealthCheck!.TimeoutSeconds);
    }

    [Theory]
    [InlineData("region==eu", "eu", true)]
    [InlineData("region==eu", "us", false)]
    [InlineData("region==eu", null, false)]
    [InlineData("region!=eu", "us", true)]
    [InlineData("region!=eu", "eu", false)]
    [InlineData("region!=eu", null, true)]
    [InlineData("region", "", true)]
    [InlineData("region", null, false)]
    [InlineData("!region", null, true)]
    [InlineData("!region", "eu", false)]
    public void PlacementConstraint_IsMetByTheNodesLabels(string text, string? region, bool met)
    {
        Assert.True(PlacementConstraint.TryParse(text, out var constraint, out var problem), problem);
        var labels = region is null ? new Dictionary<string, string> { ["other"] = "x" } : new Dictionary<string, string> { ["region"] = region };

        Assert.Equal(met, constraint.IsMetBy(labels));
        Assert.Equal(text, constraint.ToString());
    }
}
