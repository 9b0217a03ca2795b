using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Nodes;

/// <summary>Node names, in a form queue names and placement can rely on (labels: <see cref="Automator67.Functions.Labels.LabelRules"/>).</summary>
public static partial class NodeValidation
{
    public static string? NameProblem(string? name) =>
        name is null ? null : NamePattern().IsMatch(name) ? null
            : "name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}
