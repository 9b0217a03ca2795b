using System.Security.Cryptography;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Passwords;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Automator67.Functions.Database;

namespace Automator67.Functions.Features.Auth;

/// <summary>
/// Creates the instance admin when there is none, so a new user can sign in at once. Run by <c>./a67 start</c> as
/// <c>Automator67.Functions bootstrap-admin</c>: the generated password goes to that terminal once, never to a log.
/// </summary>
public sealed class AdminBootstrap(AccountStore accounts, PasswordHasher hasher, IOptions<AuthOptions> options)
{
    public sealed record Outcome(string Email, string? Password);

    /// <summary>Returns the admin's email, and the generated password when this call created the account.</summary>
    public async Task<Outcome> EnsureAdminAsync(CancellationToken ct)
    {
        var email = EmailAddress.Normalize(options.Value.AdminEmail, out var problem)
            ?? throw new Automator67.Hosting.StartupException($"Setting Auth__AdminEmail is not usable: {problem}");
        if (await accounts.AnyAdminAsync(ct))
        {
            return new Outcome(email, null);
        }

        // 128 random bits in base64url: far from any common-password list, easy to paste.
        var password = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16));
        var created = await accounts.CreateAsync(email, hasher.Hash(password), Roles.Admin,
            new AuditEvent(AuditTypes.AccountCreated, null, null, "local", "bootstrap-admin", new Dictionary<string, object?> { ["role"] = Roles.Admin }), ct);
        return created is null
            ? throw new Automator67.Hosting.StartupException($"an account {email} exists but is not an admin; choose another Auth__AdminEmail or make that account an admin.")
            : new Outcome(email, password);
    }
}

public static class AdminBootstrapCommand
{
    /// <summary>
    /// <c>Automator67.Functions bootstrap-admin</c>: applies the migrations, creates the admin if there is none, and
    /// prints its password to this terminal (standard output only; nothing is logged).
    /// </summary>
    public static async Task BootstrapAdminAsync(this WebApplication app)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await ActivatorUtilities.CreateInstance<DatabaseMigrator>(app.Services).MigrateAsync(timeout.Token);
        var outcome = await app.Services.GetRequiredService<AdminBootstrap>().EnsureAdminAsync(timeout.Token);
        Console.WriteLine(outcome.Password is null
            ? $"admin      {outcome.Email} (exists)"
            : $"admin      created {outcome.Email} with password {outcome.Password}\n           (shown this once and never logged: store it now, or sign in and change it)");
    }
}
