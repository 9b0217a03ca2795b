using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.GitHub;

/// <summary>
/// GitHub sign-in (an OAuth app). Values: <c>GitHub__ClientId</c>, <c>GitHub__ClientSecret</c>, … Without a client id
/// and secret the GitHub endpoints answer 501. The URLs are settings so the tests can point them at a stand-in.
/// </summary>
public sealed class GitHubOptions : IValidatableObject
{
    public const string Section = "GitHub";

    /// <summary>The OAuth app's client id. Default: none (GitHub sign-in off).</summary>
    public string? ClientId { get; set; }

    /// <summary>The OAuth app's client secret. Default: none (GitHub sign-in off).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>Where the browser is sent to approve the sign-in. Default: <c>https://github.com/login/oauth/authorize</c>.</summary>
    public string AuthorizeUrl { get; set; } = "https://github.com/login/oauth/authorize";

    /// <summary>Where the code is exchanged for a token. Default: <c>https://github.com/login/oauth/access_token</c>.</summary>
    public string TokenUrl { get; set; } = "https://github.com/login/oauth/access_token";

    /// <summary>The REST API (<c>/user</c>, <c>/user/emails</c>). Default: <c>https://api.github.com</c>.</summary>
    public string ApiUrl { get; set; } = "https://api.github.com";

    /// <summary>
    /// The callback registered with the OAuth app. Default: none, derived from each request as
    /// <c>{scheme}://{host}/api/auth/github/callback</c>; set it behind a proxy that changes scheme or host.
    /// </summary>
    public string? CallbackUrl { get; set; }

    /// <summary>One call to GitHub. Default: 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:02:00", ErrorMessage = "Setting GitHub__Timeout must be between 00:00:01 and 00:02:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(ClientId) && !string.IsNullOrWhiteSpace(ClientSecret);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // Half a configuration is a mistake, not "off": say so at start rather than answer 501 later.
        if (string.IsNullOrWhiteSpace(ClientId) != string.IsNullOrWhiteSpace(ClientSecret))
        {
            yield return new ValidationResult("Settings GitHub__ClientId and GitHub__ClientSecret go together: set both, or neither to turn GitHub sign-in off.");
        }

        foreach (var (name, value, required) in new[] { (nameof(AuthorizeUrl), AuthorizeUrl, true), (nameof(TokenUrl), TokenUrl, true), (nameof(ApiUrl), ApiUrl, true), (nameof(CallbackUrl), CallbackUrl, false) })
        {
            if ((required || !string.IsNullOrEmpty(value)) && !IsHttpUrl(value))
            {
                yield return new ValidationResult($"Setting GitHub__{name} must be an absolute http or https URL.", [name]);
            }
        }
    }

    static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);
}
