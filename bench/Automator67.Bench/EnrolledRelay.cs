namespace Automator67.Bench;

/// <summary>One enrolled node of the run: its id, its relay's state folder, and its <c>node-relay run</c> process once started.</summary>
public sealed class EnrolledRelay(Guid nodeId, string stateDirectory)
{
    public Guid NodeId { get; } = nodeId;

    public string StateDirectory { get; } = stateDirectory;

    public ChildProcess? Process { get; set; }
}
