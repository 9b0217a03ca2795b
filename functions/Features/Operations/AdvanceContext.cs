using Automator67.Functions.Features.Apps;
using Automator67.Functions.Features.Relay;

namespace Automator67.Functions.Features.Operations;

/// <summary>
/// A command an advance wants sent; <see cref="Sent"/> learns its id once it is recorded (in the same transaction).
/// <see cref="Release"/> is the release a pull or a start is for: its secrets and registry credentials are sealed into
/// the command by the engine as it is built (the machine itself never sees a secret).
/// </summary>
public sealed record CommandIntent(CommandRequest Request, Action<Guid> Sent, Release? Release = null);

/// <summary>
/// Everything one advance of one operation works on, loaded under the operation's row lock: the operation, the app's
/// replicas, this operation's pulls, the outcomes of the commands they wait for, the releases involved, and the nodes
/// placement may use. The machine changes these in memory and adds commands and history; the engine writes it all back
/// in the same transaction.
/// </summary>
public sealed class AdvanceContext
{
    public required OperationRow Operation { get; init; }
    /// <summary>The app as container labels name it: its id, which no rename changes.</summary>
    public required string AppLabel { get; init; }
    public required DateTimeOffset Now { get; init; }
    public required OperationOptions Options { get; init; }
    public required List<ReplicaRow> Replicas { get; init; }
    public required List<PullRow> Pulls { get; init; }
    public required IReadOnlyDictionary<Guid, CommandState> Commands { get; init; }
    public required IReadOnlyDictionary<Guid, Release> Releases { get; init; }
    public required IReadOnlyList<PlacementNode> Nodes { get; init; }
    public required Queue<long> Generations { get; init; }
    public required IReadOnlyDictionary<Guid, string> NodeNames { get; init; }

    /// <summary>When a failed placement is tried again.</summary>
    public DateTimeOffset? PlaceRetryAt { get; set; }

    public List<CommandIntent> Outgoing { get; } = [];
    public List<HistoryEntry> History { get; } = [];

    /// <summary>The app row should say it now runs the operation's target (set when the operation finishes well).</summary>
    public bool AppReachedTarget { get; set; }

    /// <summary>A stop operation stopped every replica: the app row says so.</summary>
    public bool AppStopped { get; set; }

    /// <summary>A remove operation took every replica away: the app row goes (its operations stay, without it).</summary>
    public bool AppRemoved { get; set; }

    public CommandState? OutcomeOf(Guid? commandId) =>
        commandId is { } id && Commands.TryGetValue(id, out var state) && state.Status != CommandStatuses.Pending ? state : null;

    public string NodeName(Guid nodeId) => NodeNames.TryGetValue(nodeId, out var name) ? $"node {name}" : $"node {nodeId}";

    public void Record(string type, string? step, string message, object? data = null) => History.Add(new HistoryEntry(Now, type, step, message, data));
}
