using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Nodes;

/// <summary>Names and labels, in the forms placement constraints and queue names can rely on.</summary>
public static partial class NodeValidation
{
    public const int MaxLabels = 32;

    public static string? NameProblem(string? name) =>
        name is null ? null : NamePattern().IsMatch(name) ? null
            : "name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.";

    public static string? LabelsProblem(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null)
        {
            return null;
        }

        if (labels.Count > MaxLabels)
        {
            return $"at most {MaxLabels} labels.";
        }

        foreach (var (key, value) in labels)
        {
            if (!LabelKeyPattern().IsMatch(key))
            {
                return $"label '{Printable(key)}': keys are 1-63 lower-case letters, digits, '.', '_', '/' or '-', starting with a letter or digit.";
            }

            if (value is null || value.Length > 128 || value.Any(char.IsControl))
            {
                return $"label '{key}': values are at most 128 characters, without control characters.";
            }
        }

        return null;
    }

    static string Printable(string text) => new([.. text.Where(c => !char.IsControl(c)).Take(63)]);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9._/-]{0,62}$")]
    private static partial Regex LabelKeyPattern();
}
