using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Apps;

/// <summary>App names: DNS labels, because container names (and, later, host names) are made from them.</summary>
public static partial class AppValidation
{
    public const string NameRule = "name must be a DNS label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit.";

    public static string? NameProblem(string? name) => name is not null && NamePattern().IsMatch(name) ? null : NameRule;

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex NamePattern();
}
