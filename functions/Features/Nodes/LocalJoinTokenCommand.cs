using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth;
using Automator67.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Nodes;

/// <summary>
/// <c>Automator67.Functions join-token NAME</c>: a join token for the instance admin's account, printed to standard
/// output alone. <c>./a67 start</c> uses it to enrol the relay of the local Docker Engine without a password; it
/// needs the database's credentials, so only whoever runs the control plane can use it.
/// </summary>
public static class LocalJoinTokenCommand
{
    public static async Task PrintJoinTokenAsync(this WebApplication app, string[] args)
    {
        var name = args.Length > 1 ? args[1] : null;
        if (NodeValidation.NameProblem(name) is { } problem)
        {
            throw new StartupException($"join-token NAME: {problem}");
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await ActivatorUtilities.CreateInstance<DatabaseMigrator>(app.Services).MigrateAsync(timeout.Token);
        var email = EmailAddress.Normalize(app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.AdminEmail, out _)!;
        var admin = await app.Services.GetRequiredService<AccountStore>().FindByEmailAsync(email, timeout.Token)
            ?? throw new StartupException($"there is no admin {email} yet; run bootstrap-admin first.");
        var (token, _) = await app.Services.GetRequiredService<NodeStore>().CreateJoinTokenAsync(admin.Id, name, new Dictionary<string, string>(),
            TimeSpan.FromMinutes(10), new AuditEvent(AuditTypes.JoinTokenCreated, admin.Id, admin.Id, "local", "join-token command"), timeout.Token);
        Console.WriteLine(token);
    }
}
