using System.Text.Json;
using System.Text.Json.Serialization;

namespace Automator67.Tests.NodeRelay;

/// <summary>Bodies the tests send that the contracts have no type for (a ping's empty body).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Dictionary<string, string>))]
public sealed partial class RelayTestJson : JsonSerializerContext;
