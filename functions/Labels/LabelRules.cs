using System.Text.RegularExpressions;

namespace Automator67.Functions.Labels;

/// <summary>
/// Labels on nodes and apps, and the keys placement constraints name: one set of rules, so a constraint can name any
/// label a node may carry.
/// </summary>
public static partial class LabelRules
{
    public const int MaxLabels = 32;
    public const int MaxValueLength = 128;

    public const string KeyRule = "keys are 1-63 lower-case letters, digits, '.', '_', '/' or '-', starting with a letter or digit";
    public const string ValueRule = "values are at most 128 characters, without control characters";

    public static bool IsKey(string? key) => key is not null && KeyPattern().IsMatch(key);

    public static bool IsValue(string? value) => value is not null && value.Length <= MaxValueLength && !value.Any(char.IsControl);

    /// <summary>The first thing wrong with a set of labels, as a sentence; null when there is nothing wrong (or no labels).</summary>
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
            if (!IsKey(key))
            {
                return $"label '{Printable(key)}': {KeyRule}.";
            }

            if (!IsValue(value))
            {
                return $"label '{key}': {ValueRule}.";
            }
        }

        return null;
    }

    /// <summary>Text safe to echo in a problem: no control characters, at most 63 of them.</summary>
    public static string Printable(string text) => new([.. text.Where(c => !char.IsControl(c)).Take(63)]);

    [GeneratedRegex("^[a-z0-9][a-z0-9._/-]{0,62}$")]
    private static partial Regex KeyPattern();
}
