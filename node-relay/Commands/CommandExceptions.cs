using System.Text.Json;

namespace Automator67.NodeRelay.Commands;

/// <summary>The command is not allowed or not well-formed: reported as <c>refused</c>, nothing was done.</summary>
public sealed class CommandRefusedException(string reason) : Exception(reason);

/// <summary>The command was tried and did not succeed (Docker or the probe said no): reported as <c>failed</c>.</summary>
public sealed class CommandFailedException(string reason, JsonElement? output = null) : Exception(reason)
{
    public JsonElement? Output { get; } = output;
}
