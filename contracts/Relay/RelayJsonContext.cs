using System.Text.Json;
using System.Text.Json.Serialization;

namespace Automator67.Contracts.Relay;

/// <summary>Source-generated JSON for everything on the relay queues: camelCase, no reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JwsHeader))]
[JsonSerializable(typeof(CommandEnvelope))]
[JsonSerializable(typeof(EventEnvelope))]
[JsonSerializable(typeof(CommandResult))]
[JsonSerializable(typeof(PullImageBody))]
[JsonSerializable(typeof(RegistryCredentials))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(RunReplicaBody))]
[JsonSerializable(typeof(StopBody))]
[JsonSerializable(typeof(ReplicaBody))]
[JsonSerializable(typeof(RemoveBody))]
[JsonSerializable(typeof(RemoveContainerBody))]
[JsonSerializable(typeof(LogsBody))]
[JsonSerializable(typeof(ProbeBody))]
[JsonSerializable(typeof(HeartbeatBody))]
[JsonSerializable(typeof(IReadOnlyList<ContainerReport>))]
[JsonSerializable(typeof(IReadOnlyList<PortBinding>))]
[JsonSerializable(typeof(CredentialRenewal))]
[JsonSerializable(typeof(RenewCredentialsRequest))]
[JsonSerializable(typeof(RenewCredentialsResponse))]
[JsonSerializable(typeof(PingOutput))]
[JsonSerializable(typeof(PullImageOutput))]
[JsonSerializable(typeof(RunReplicaOutput))]
[JsonSerializable(typeof(ContainersOutput))]
[JsonSerializable(typeof(InspectOutput))]
[JsonSerializable(typeof(LogsOutput))]
[JsonSerializable(typeof(ProbeOutput))]
[JsonSerializable(typeof(UnverifiedCommandOutput))]
public sealed partial class RelayJsonContext : JsonSerializerContext;
