using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Automator67.Functions.Labels;

namespace Automator67.Functions.Features.Apps;

/// <summary>
/// One placement constraint on node labels: <c>key==value</c>, <c>key!=value</c>, <c>key</c> (the label exists) or
/// <c>!key</c> (it does not). A node qualifies when it meets every constraint of the release.
/// </summary>
public sealed record PlacementConstraint(string Key, PlacementConstraint.Operation Op, string? Value)
{
    public const int MaxLength = 200;
    public const string Syntax = "use key==value, key!=value, key (the label exists) or !key (it does not)";

    // A key with one of these in it is a constraint written some other way (key=value, key>1, key in (…)).
    static readonly SearchValues<char> OperatorCharacters = SearchValues.Create("=!<>() ,");

    public enum Operation
    {
        Equal,
        NotEqual,
        Exists,
        Absent,
    }

    /// <summary>Whether a node with these labels meets the constraint (<c>key!=value</c> holds for a node without the label).</summary>
    public bool IsMetBy(IReadOnlyDictionary<string, string> labels) => Op switch
    {
        Operation.Equal => labels.TryGetValue(Key, out var value) && value == Value,
        Operation.NotEqual => !labels.TryGetValue(Key, out var value) || value != Value,
        Operation.Exists => labels.ContainsKey(Key),
        _ => !labels.ContainsKey(Key),
    };

    public override string ToString() => Op switch
    {
        Operation.Equal => $"{Key}=={Value}",
        Operation.NotEqual => $"{Key}!={Value}",
        Operation.Exists => Key,
        _ => $"!{Key}",
    };

    public static bool TryParse(string? text, [NotNullWhen(true)] out PlacementConstraint? constraint, [NotNullWhen(false)] out string? problem)
    {
        constraint = null;
        problem = Problem(text, out var key, out var op, out var value);
        if (problem is null)
        {
            constraint = new PlacementConstraint(key!, op, value);
        }

        return problem is null;
    }

    static string? Problem(string? text, out string? key, out Operation op, out string? value)
    {
        (key, op, value) = (null, Operation.Exists, null);
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength)
        {
            return $"a constraint is 1-{MaxLength} characters: {Syntax}.";
        }

        if (text.IndexOf("==", StringComparison.Ordinal) is var equals and > 0)
        {
            (key, op, value) = (text[..equals], Operation.Equal, text[(equals + 2)..]);
        }
        else if (text.IndexOf("!=", StringComparison.Ordinal) is var differs and > 0)
        {
            (key, op, value) = (text[..differs], Operation.NotEqual, text[(differs + 2)..]);
        }
        else if (text.StartsWith('!'))
        {
            (key, op) = (text[1..], Operation.Absent);
        }
        else
        {
            key = text;
        }

        if (key.AsSpan().IndexOfAny(OperatorCharacters) >= 0)
        {
            return $"unknown constraint syntax '{LabelRules.Printable(text)}': {Syntax}.";
        }

        if (!LabelRules.IsKey(key))
        {
            return $"the label key '{LabelRules.Printable(key)}' in '{LabelRules.Printable(text)}' is not a label key: {LabelRules.KeyRule}.";
        }

        if (value is not null && (value.Length == 0 || !LabelRules.IsValue(value)))
        {
            return value.Length == 0
                ? $"'{LabelRules.Printable(text)}' has no value after the operator: {Syntax}."
                : $"the value in '{LabelRules.Printable(text)}' is not a label value: {LabelRules.ValueRule}.";
        }

        return null;
    }
}
