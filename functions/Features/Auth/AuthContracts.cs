namespace Automator67.Functions.Features.Auth;

public sealed record SignupRequest(string? Email, string? Password);

public sealed record LoginRequest(string? Email, string? Password);

public sealed record RefreshRequest(string? RefreshToken);

public sealed record AccountView(Guid Id, string Email, string Role, bool Disabled, DateTimeOffset CreatedAt)
{
    public static AccountView From(Account account) => new(account.Id, account.Email, account.Role, account.IsDisabled, account.CreatedAt);
}

/// <summary>What a sign-in returns. The refresh token is shown here only; store it like a password.</summary>
public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, Guid SessionId, AccountView Account);

public sealed record SessionView(Guid Id, string UserAgent, string Ip, DateTimeOffset CreatedAt, DateTimeOffset LastUsedAt, DateTimeOffset ExpiresAt, bool Current);

public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);
