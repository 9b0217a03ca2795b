using Automator67.Contracts.Relay;
using Automator67.NodeRelay;
using Automator67.NodeRelay.Commands;
using Automator67.NodeRelay.Docker;

namespace Automator67.Tests.NodeRelay;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HardeningPolicyTests : IDisposable
{
    readonly string _allowed = Directory.CreateTempSubdirectory("a67-allowed-").FullName;

    public void Dispose() => Directory.Delete(_allowed, recursive: true);

    HardeningPolicy Policy(string? capabilities = null) => new(RelayUnits.Options(o =>
    {
        o.AllowedHostPaths = _allowed;
        o.AllowedCapabilities = capabilities ?? o.AllowedCapabilities;
    }));

    static RunReplicaBody Body(string network = "bridge", IReadOnlyList<string>? capAdd = null, IReadOnlyList<string>? hostPaths = null, ResourceLimits? limits = null) =>
        new(new ReplicaSelector("web", "r1", 0), 1, "image:tag", null, null, [new PortBinding(8080, 18080)], limits, new RestartPolicySpec("on-failure", 3), capAdd, hostPaths, network);

    [Fact]
    public void HostConfigFor_DropsEverything_ButWhatWasAskedFromTheAllowlist()
    {
        var host = Policy().HostConfigFor(Body(capAdd: ["cap_net_bind_service"]), out var exposed);

        Assert.Equal(["ALL"], host.CapDrop);
        Assert.Equal(["NET_BIND_SERVICE"], host.CapAdd);
        Assert.Equal(["no-new-privileges:true"], host.SecurityOpt);
        Assert.False(host.Privileged);
        Assert.True(string.IsNullOrEmpty(host.PidMode) && string.IsNullOrEmpty(host.IpcMode));
        Assert.Equal(512, host.PidsLimit);
        Assert.Equal("18080", Assert.Single(host.PortBindings["8080/tcp"]).HostPort);
        Assert.Contains("8080/tcp", exposed!.Keys);
        Assert.Equal(3, host.RestartPolicy.MaximumRetryCount);
    }

    [Fact]
    public void HostConfigFor_Refuses_APathThatLeadsToTheDockerSocket_ThroughALinkInAnAllowedFolder()
    {
        Directory.CreateSymbolicLink(Path.Combine(_allowed, "run"), "/run");
        Directory.CreateDirectory(Path.Combine(_allowed, "data"));

        var linked = Assert.Throws<CommandRefusedException>(() => Policy().HostConfigFor(Body(hostPaths: [$"{_allowed}/run/docker.sock:/s"]), out _));
        var dotDot = Assert.Throws<CommandRefusedException>(() => Policy().HostConfigFor(Body(hostPaths: [$"{_allowed}/../../etc:/e"]), out _));
        var fine = Policy().HostConfigFor(Body(hostPaths: [$"{_allowed}/data:/data:ro"]), out _);

        Assert.StartsWith($"host path {_allowed}/run/docker.sock is never mounted", linked.Message, StringComparison.Ordinal);
        Assert.StartsWith($"host path {_allowed}/../../etc is not under an allowed folder", dotDot.Message, StringComparison.Ordinal);
        Assert.Equal([$"{_allowed}/data:/data:ro"], fine.Binds);
    }

    [Fact]
    public void HostConfigFor_PutsABridgeReplica_OnTheNodesBridgeNetwork_AndLeavesHostAlone()
    {
        var policy = new HardeningPolicy(RelayUnits.Options(o => o.BridgeNetwork = "a67-replicas"));

        Assert.Equal("a67-replicas", policy.HostConfigFor(Body("bridge"), out _).NetworkMode);
        Assert.Equal("host", policy.HostConfigFor(Body("host"), out _).NetworkMode);
        Assert.Equal("bridge", Policy().HostConfigFor(Body("bridge"), out _).NetworkMode);
    }

    [Theory]
    [InlineData("host")]
    [InlineData("none")]
    [InlineData("")]
    [InlineData("container:abc")]
    public void RelayOptions_RefuseABridgeNetwork_ThatIsNoNetworkName(string name)
    {
        var options = new RelayOptions { BridgeNetwork = name };

        var problems = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();

        Assert.Contains(problems, p => p.ErrorMessage!.StartsWith("Setting Relay__BridgeNetwork must name a bridge network", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("container:abc", null, "network mode 'container:abc' is not allowed; use bridge, host or none")]
    [InlineData("bridge", "SYS_PTRACE", "capability SYS_PTRACE is not allowed on this node")]
    [InlineData("none", null, "ports need bridge or host networking, not none")]
    public void HostConfigFor_Refuses_WhatTheNodeDoesNotAllow(string network, string? capability, string reason)
    {
        var refused = Assert.Throws<CommandRefusedException>(() => Policy().HostConfigFor(Body(network, capability is null ? null : [capability]), out _));

        Assert.StartsWith(reason, refused.Message, StringComparison.Ordinal);
    }
}
