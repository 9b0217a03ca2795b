namespace Automator67.Functions.Features.Apps;

/// <summary>Problems collected by JSON path, under an optional prefix; the spec as a whole is <c>body</c> (or the prefix).</summary>
internal sealed class SpecProblems(string prefix)
{
    readonly Dictionary<string, List<string>> _byPath = new(StringComparer.Ordinal);

    public int Count => _byPath.Count;

    public void Add(string path, string problem)
    {
        var key = (prefix, path) switch
        {
            ("", "") => "body",
            ("", _) => path,
            (_, "") => prefix,
            _ => $"{prefix}.{path}",
        };
        if (!_byPath.TryGetValue(key, out var list))
        {
            _byPath[key] = list = [];
        }

        list.Add(problem);
    }

    public Dictionary<string, string[]> ToDictionary() => _byPath.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
}
