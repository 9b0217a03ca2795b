using System.Text.Json.Serialization;

namespace Automator67.Functions.Features.GitHub;

/// <summary>What <c>POST /api/auth/github/link</c> returns: open this URL in the browser that holds the flow cookie.</summary>
public sealed record GitHubLinkStart(string AuthorizeUrl);

/// <summary>Who GitHub says the user is: the stable numeric id (as text), the user name, the verified primary email if any.</summary>
public sealed record GitHubIdentity(string Subject, string Login, string? VerifiedPrimaryEmail);

/// <summary>What the token endpoint answered: a token, or GitHub's error code (e.g. <c>bad_verification_code</c>).</summary>
public abstract record TokenExchange
{
    public sealed record Issued(string AccessToken) : TokenExchange;

    public sealed record Refused(string Error) : TokenExchange;
}

/// <summary>GitHub could not be asked (down, slow, or an answer we cannot read): the caller answers 502.</summary>
public sealed class GitHubUnavailableException(string message) : Exception(message);

// GitHub's wire shapes, only the fields we read.
sealed record GitHubTokenAnswer(string? AccessToken, string? Error);

sealed record GitHubUser(long Id, string? Login);

sealed record GitHubEmail(string? Email, bool Primary, bool Verified);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(GitHubTokenAnswer))]
[JsonSerializable(typeof(GitHubUser))]
[JsonSerializable(typeof(GitHubEmail[]))]
sealed partial class GitHubJson : JsonSerializerContext;
