namespace Automator67.Functions.Features.Tokens;

/// <summary><c>POST /api/tokens</c>. <c>expiresInDays</c> null or absent means the default (90), never "no expiry".</summary>
public sealed record CreateTokenRequest(string? Name, string?[]? Scopes, int? ExpiresInDays);

/// <summary>A new token. <see cref="Token"/> is shown here only; it cannot be read again.</summary>
public sealed record CreatedToken(Guid Id, string Name, string[] Scopes, string Token, string Hint, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

/// <summary>A token in the list: <see cref="Hint"/> is the secret's last characters, enough to tell tokens apart.</summary>
public sealed record TokenView(
    Guid Id, string Name, string[] Scopes, string Hint, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt)
{
    public static TokenView From(PersonalAccessToken token) =>
        new(token.Id, token.Name, token.Scopes, token.Hint, token.CreatedAt, token.LastUsedAt, token.ExpiresAt, token.RevokedAt);
}
