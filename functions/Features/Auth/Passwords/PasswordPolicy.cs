using System.Collections.Frozen;

namespace Automator67.Functions.Features.Auth.Passwords;

/// <summary>
/// ASVS 5.0 level 2: at least 8 characters, up to 1,024 accepted (never truncated), not one of the 3,000 most common
/// passwords. No composition rules: they push people to predictable patterns.
/// </summary>
public static class PasswordPolicy
{
    public const int MinLength = 8;
    public const int MaxLength = 1024;

    static readonly FrozenSet<string> Common = LoadCommonPasswords();

    public static int CommonCount => Common.Count;

    /// <summary>Returns why the password is refused, or null when it is acceptable.</summary>
    public static string? Check(string? password)
    {
        if (string.IsNullOrEmpty(password))
        {
            return "A password is required.";
        }

        // Length in text elements (what a person counts), not UTF-16 units.
        var length = new System.Globalization.StringInfo(password).LengthInTextElements;
        if (length < MinLength)
        {
            return $"The password must have at least {MinLength} characters.";
        }

        if (password.Length > MaxLength)
        {
            return $"The password must have at most {MaxLength} characters.";
        }

        return Common.Contains(password) ? "This password is one of the most common ones; choose another." : null;
    }

    static FrozenSet<string> LoadCommonPasswords()
    {
        using var stream = typeof(PasswordPolicy).Assembly.GetManifestResourceStream("Automator67.common-passwords.txt")
            ?? throw new InvalidOperationException("the common-passwords list is not embedded");
        using var reader = new StreamReader(stream);
        var passwords = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                passwords.Add(line);
            }
        }

        return passwords.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }
}
