using System.Text.Json;

namespace Automator67.Tests.Infra;

/// <summary>Reads resources out of a built ARM template, modules (nested deployments) included.</summary>
public static class ArmTemplate
{
    /// <summary>A resource the template deploys (not an <c>existing</c> reference) and the template that declares it.</summary>
    public sealed record Resource(JsonElement Body, JsonElement Template)
    {
        public JsonElement Properties => Body.GetProperty("properties");

        /// <summary>A variable of the declaring template (a module's own variables).</summary>
        public JsonElement Variable(string name) => Template.GetProperty("variables").GetProperty(name);
    }

    public static IEnumerable<Resource> Resources(JsonElement template)
    {
        if (!template.TryGetProperty("resources", out var resources))
        {
            yield break;
        }

        // languageVersion 2.0 keeps resources in an object keyed by symbolic name; 1.0 in an array.
        var items = resources.ValueKind == JsonValueKind.Object ? resources.EnumerateObject().Select(p => p.Value) : resources.EnumerateArray();
        foreach (var resource in items)
        {
            if (resource.TryGetProperty("existing", out var existing) && existing.GetBoolean())
            {
                continue;
            }

            yield return new Resource(resource, template);
            if (resource.GetProperty("type").GetString() == "Microsoft.Resources/deployments")
            {
                foreach (var nested in Resources(resource.GetProperty("properties").GetProperty("template")))
                {
                    yield return nested;
                }
            }
        }
    }

    public static Resource One(JsonElement template, string type)
    {
        var found = Resources(template).Where(r => r.Body.GetProperty("type").GetString() == type).ToList();
        Assert.True(found.Count == 1, $"expected one {type} in the template, found {found.Count}");
        return found[0];
    }

    public static IEnumerable<Resource> OfType(JsonElement template, string type) =>
        Resources(template).Where(r => r.Body.GetProperty("type").GetString() == type);

    /// <summary>A property by path (<c>network.publicNetworkAccess</c>), as JSON text for plain comparison.</summary>
    public static string? At(JsonElement element, string path)
    {
        foreach (var part in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
            {
                return null;
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString() : element.GetRawText();
    }
}
