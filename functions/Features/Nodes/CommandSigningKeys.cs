using Automator67.Contracts.Nodes;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Nodes;

/// <summary>
/// The keys that sign relay commands: a ring of their own, apart from the access-token keys, so that neither kind of
/// signature can ever be passed off as the other. A replaced key verifies for a day, longer than any command lives.
/// </summary>
public sealed class CommandSigningKeys(IOptions<NodeOptions> options, TimeProvider time, IHostEnvironment environment)
{
    public SigningKeyRing Ring { get; } = new(
        Path.GetFullPath(options.Value.CommandSigningKeyFile, environment.ContentRootPath),
        options.Value.CommandSigningKeyLifetime,
        TimeSpan.FromDays(1),
        time);

    /// <summary>The public keys, as enrolled relays receive them.</summary>
    public IReadOnlyList<CommandSigningKey> PublicKeys => [.. Ring.Jwks.Keys.Select(k => new CommandSigningKey(k.Kid, k.Crv, k.X, k.Y))];
}
