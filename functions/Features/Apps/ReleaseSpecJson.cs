using System.Text.Json;

namespace Automator67.Functions.Features.Apps;

/// <summary>How a spec is written to <c>a67.releases.spec</c> and measured: camelCase, nulls kept (null means something).</summary>
public static class ReleaseSpecJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);

    public static string Serialize(ReleaseSpec spec) => JsonSerializer.Serialize(spec, Options);

    public static ReleaseSpec Deserialize(string json) =>
        JsonSerializer.Deserialize<ReleaseSpec>(json, Options) ?? throw new JsonException("a stored release spec is null");
}
