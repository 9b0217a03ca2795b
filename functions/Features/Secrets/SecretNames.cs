using System.Text;
using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Secrets;

/// <summary>The rules a secret's name and value follow: a name is an environment variable name, a value at most 64 KiB.</summary>
public static partial class SecretNames
{
    public static bool IsValid(string? name) => name is not null && NamePattern().IsMatch(name);

    public static string? NameProblem(string? name) => IsValid(name)
        ? null
        : "A secret's name is an environment variable name: a letter or '_', then letters, digits or '_' (at most 255).";

    public static string? ValueProblem(string? value) => value switch
    {
        null => "value is required: the secret's value, as a string.",
        _ when value.Contains('\0', StringComparison.Ordinal) => "value must not contain NUL characters (an environment variable cannot hold one).",
        _ when Encoding.UTF8.GetByteCount(value) > SecretStore.MaxValueBytes => $"value is at most {SecretStore.MaxValueBytes} bytes (64 KiB) as UTF-8.",
        _ => null,
    };

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,254}$")]
    private static partial Regex NamePattern();
}
