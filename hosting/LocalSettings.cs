using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Automator67.Hosting;

/// <summary>
/// <c>local.settings.json</c> in the Azure Functions shape
/// (<c>{"IsEncrypted": false, "Values": {...}, "Host": {...}, "ConnectionStrings": {...}}</c>), so users of the design
/// card's tooling keep their file. Keys in <c>Values</c> use <c>__</c> between sections, exactly like environment variables.
/// </summary>
public sealed class LocalSettings
{
    public const string FileName = "local.settings.json";

    /// <summary>Environment variable that points at another settings file (tests, several instances on one machine).</summary>
    public const string PathVariable = "A67_LOCAL_SETTINGS";

    LocalSettings(string? path, Dictionary<string, string?> values)
    {
        Path = path;
        Values = values;
    }

    /// <summary>The file read, or null when there is none.</summary>
    public string? Path { get; }

    /// <summary>Its settings as configuration keys (<c>:</c> between sections).</summary>
    public IReadOnlyDictionary<string, string?> Values { get; }

    /// <summary>
    /// The environment: <c>ASPNETCORE_ENVIRONMENT</c>, <c>DOTNET_ENVIRONMENT</c> or <c>AZURE_FUNCTIONS_ENVIRONMENT</c>
    /// from the process environment, else <c>AZURE_FUNCTIONS_ENVIRONMENT</c> from the file, else Production.
    /// </summary>
    public string EnvironmentName =>
        FirstNonEmpty(
            Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT"),
            Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT"),
            Environment.GetEnvironmentVariable("AZURE_FUNCTIONS_ENVIRONMENT"),
            Values.GetValueOrDefault("AZURE_FUNCTIONS_ENVIRONMENT")) ?? "Production";

    /// <summary>Reads the file named by <see cref="PathVariable"/>, else <c>local.settings.json</c> in the content root, if present.</summary>
    public static LocalSettings Load(string contentRoot)
    {
        var explicitPath = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath) && !File.Exists(explicitPath))
        {
            throw new StartupException($"{PathVariable} points at '{explicitPath}', which does not exist; fix the path or unset {PathVariable}.");
        }

        var path = string.IsNullOrWhiteSpace(explicitPath) ? System.IO.Path.Combine(contentRoot, FileName) : explicitPath;
        return File.Exists(path) ? new LocalSettings(path, Read(path)) : new LocalSettings(null, []);
    }

    /// <summary>
    /// Replaces the configuration sources, lowest precedence first: built-in defaults, Development defaults (only in
    /// Development), this file, environment variables, command-line arguments.
    /// </summary>
    public void ApplyTo(IConfigurationManager configuration, bool isDevelopment, IReadOnlyDictionary<string, string?> defaults,
        IReadOnlyDictionary<string, string?> developmentDefaults, string[] args)
    {
        configuration.Sources.Clear();
        configuration.AddInMemoryCollection(defaults);
        if (isDevelopment)
        {
            configuration.AddInMemoryCollection(developmentDefaults);
        }

        configuration.AddInMemoryCollection(Values);
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(args);
    }

    /// <summary>Parses one file; every malformation is a <see cref="StartupException"/> that names it.</summary>
    public static Dictionary<string, string?> Read(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions
            {
                AllowTrailingCommas = true,
                CommentHandling = JsonCommentHandling.Skip,
            });
        }
        catch (JsonException ex)
        {
            throw new StartupException(
                $"{path} is not valid JSON (line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1}); fix it or delete it (local.settings.sample.json shows the shape).");
        }

        using (document)
        {
            return ToSettings(path, document.RootElement);
        }
    }

    static Dictionary<string, string?> ToSettings(string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new StartupException($"{path} must hold a JSON object with a \"Values\" object; see local.settings.sample.json.");
        }

        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "IsEncrypted" when property.Value.ValueKind == JsonValueKind.True:
                    throw new StartupException($"{path} says \"IsEncrypted\": true; Automator67 reads only plain local settings: set it to false and store the values in clear.");
                case "IsEncrypted":
                    break;
                case "Values":
                    AddSection(path, "Values", property.Value, prefix: "", settings);
                    break;
                case "ConnectionStrings":
                    AddSection(path, "ConnectionStrings", property.Value, prefix: "ConnectionStrings:", settings);
                    break;
                case "Host":
                    AddHost(path, property.Value, settings);
                    break;
                default:
                    throw new StartupException($"{path} has an unknown top-level entry \"{property.Name}\"; settings go inside \"Values\" (see local.settings.sample.json).");
            }
        }

        return settings;
    }

    static void AddSection(string path, string section, JsonElement element, string prefix, Dictionary<string, string?> settings)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new StartupException($"{path}: \"{section}\" must be an object of name/value pairs.");
        }

        foreach (var entry in element.EnumerateObject())
        {
            settings[prefix + entry.Name.Replace("__", ":", StringComparison.Ordinal)] = entry.Value.ValueKind switch
            {
                JsonValueKind.String => entry.Value.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => entry.Value.GetRawText(),
                JsonValueKind.Null => null,
                _ => throw new StartupException(
                    $"{path}: \"{section}.{entry.Name}\" must be a string, number or boolean, not {entry.Value.ValueKind.ToString().ToLowerInvariant()}."),
            };
        }
    }

    // The Functions host reads its HTTP port from Host.LocalHttpPort; honouring it keeps such a file working.
    static void AddHost(string path, JsonElement host, Dictionary<string, string?> settings)
    {
        if (host.ValueKind != JsonValueKind.Object)
        {
            throw new StartupException($"{path}: \"Host\" must be an object.");
        }

        if (host.TryGetProperty("LocalHttpPort", out var port))
        {
            settings["ControlPlane:Port"] = port.ValueKind == JsonValueKind.String ? port.GetString() : port.GetRawText();
        }
    }

    static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}
