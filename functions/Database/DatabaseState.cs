namespace Automator67.Functions.Database;

/// <summary>
/// Whether the schema is in place. The process starts before the database is reachable (a container may come up
/// first); readiness and the job server wait on this instead of failing the start.
/// </summary>
public sealed class DatabaseState
{
    readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    volatile string _problem = "database migrations have not run yet";

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    /// <summary>Why the database is not ready; empty once it is.</summary>
    public string Problem => IsReady ? "" : _problem;

    public Task WhenReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    public void MarkReady() => _ready.TrySetResult();

    public void MarkNotReady(string problem) => _problem = problem;
}
