namespace Automator67.Tests.Deploy;

/// <summary>A systemd unit file read as systemd reads its assignments: <c>Key=Value</c> lines, comments skipped.</summary>
public sealed class Unit(IReadOnlyList<KeyValuePair<string, string>> assignments)
{
    public static Unit Parse(string text) => new(
        [.. text.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && line[0] is not ('#' or ';' or '['))
            .Select(line => line.Split('=', 2))
            .Select(parts => KeyValuePair.Create(parts[0].Trim(), parts.Length > 1 ? parts[1].Trim() : ""))]);

    public IReadOnlyList<string> All(string key) => [.. assignments.Where(a => a.Key == key).Select(a => a.Value)];

    /// <summary>The value of a key set exactly once.</summary>
    public string Value(string key) => Assert.Single(All(key));

    /// <summary>The value an <c>Environment=NAME=value</c> line gives NAME (the last one wins, as in systemd).</summary>
    public string? Environment(string name) =>
        All("Environment").Select(e => e.Split('=', 2)).LastOrDefault(e => e[0] == name) is { Length: 2 } pair ? pair[1] : null;

    /// <summary>Every <c>Environment=</c> assignment as NAME=value.</summary>
    public IReadOnlyList<string> EnvironmentAssignments => All("Environment");
}
