using System.Buffers.Text;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Run;

namespace Automator67.NodeRelay.Commands;

/// <summary>
/// Decides whether a queue message is a command this relay may execute: signed by a control-plane key it knows (by
/// kid), for this node, well-formed and of a known kind. Expiry and the journal are checked by the loop, which knows
/// whether the message is a redelivery. Anything refused is reported, never executed. A kid the relay does not know
/// yet makes it fetch the control plane's current keys once (they rotate) before it refuses.
/// </summary>
public sealed class CommandVerifier(RelayIdentity identity, CredentialRenewer renewer)
{
    /// <summary>How far the control plane's clock may be ahead of this host's before a fresh command looks expired.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    public const string UnknownKind = "unknown";

    public async Task<(CommandEnvelope? Command, CommandResult? Refusal)> VerifyAsync(string message, CancellationToken ct)
    {
        var (payload, kid, problem) = identity.VerifyCommand(message);
        if (problem == Jws.UnknownKey && !string.IsNullOrEmpty(kid) && await renewer.FetchCommandKeyAsync(kid, ct))
        {
            (payload, kid, problem) = identity.VerifyCommand(message);
        }

        if (payload is null)
        {
            // The claimed id is not trusted; it travels only so the control plane can tell which of its commands a
            // relay could not verify (after a key rotation the relay has not heard of, say).
            var output = JsonSerializer.SerializeToElement(new UnverifiedCommandOutput(ClaimedCommandId(message), kid), RelayJsonContext.Default.UnverifiedCommandOutput);
            return (null, Refused(Guid.Empty, null, UnknownKind, problem ?? "the signature does not verify", output));
        }

        CommandEnvelope? command;
        try
        {
            command = JsonSerializer.Deserialize(payload, RelayJsonContext.Default.CommandEnvelope);
        }
        catch (JsonException ex)
        {
            return (null, Refused(Guid.Empty, null, UnknownKind, $"the command is not a valid command envelope ({ex.Message})"));
        }

        if (command is null || command.CommandId == Guid.Empty)
        {
            return (null, Refused(Guid.Empty, command?.OperationId, command?.Kind ?? UnknownKind, "the command has no command id"));
        }

        if (command.NodeId != identity.NodeId)
        {
            return (null, Refused(command, $"the command is for node {command.NodeId}, not for this node ({identity.NodeId})"));
        }

        if (!CommandKinds.All.Contains(command.Kind))
        {
            return (null, Refused(command, $"unknown command kind '{command.Kind}'"));
        }

        return (command, null);
    }

    public static bool IsExpired(CommandEnvelope command, DateTimeOffset now) => command.ExpiresAt + ClockSkew <= now;

    public static CommandResult Refused(CommandEnvelope command, string reason, JsonElement? output = null) =>
        Refused(command.CommandId, command.OperationId, command.Kind, reason, output);

    static CommandResult Refused(Guid commandId, Guid? operationId, string kind, string reason, JsonElement? output = null) =>
        new(commandId, operationId, kind, ResultStatuses.Refused, reason, output, 0);

    static string? ClaimedCommandId(string message)
    {
        var parts = message.Split('.');
        if (message.Length > Jws.MaxLength || parts.Length != 3)
        {
            return null;
        }

        try
        {
            using var claimed = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            return claimed.RootElement.ValueKind == JsonValueKind.Object
                && claimed.RootElement.TryGetProperty("commandId", out var id) && id.ValueKind == JsonValueKind.String
                && Guid.TryParse(id.GetString(), out var guid) ? guid.ToString() : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }
}
