using System.Text;

namespace Automator67.Functions.Features.Auth;

/// <summary>Emails are compared in one normalized form: trimmed, NFC, lower-case; so "Ann@X.io " and "ann@x.io" are one account.</summary>
public static class EmailAddress
{
    public const int MaxLength = 254;

    /// <summary>Returns the normalized address, or null with a reason when it is not a plausible email address.</summary>
    public static string? Normalize(string? email, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(email))
        {
            problem = "An email address is required.";
            return null;
        }

        var normalized = email.Trim().Normalize(NormalizationForm.FormC).ToLowerInvariant();
        var at = normalized.LastIndexOf('@');
        if (normalized.Length > MaxLength)
        {
            problem = $"The email address must have at most {MaxLength} characters.";
        }
        else if (normalized.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            problem = "The email address must not contain spaces or control characters.";
        }
        else if (at <= 0 || at == normalized.Length - 1 || normalized.IndexOf('@') != at || !normalized[(at + 1)..].Contains('.', StringComparison.Ordinal))
        {
            problem = "The email address must look like name@example.com.";
        }

        return problem is null ? normalized : null;
    }
}
