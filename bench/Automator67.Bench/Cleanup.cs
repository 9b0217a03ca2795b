namespace Automator67.Bench;

/// <summary>Cleanup that reports and goes on: a failure to remove one thing must not leave the next behind.</summary>
public static class Cleanup
{
    public static async Task AttemptAsync(string what, Func<Task> action)
    {
        try
        {
            await action();
        }
#pragma warning disable CA1031 // Cleanup reports and goes on: the next part must still be removed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await Console.Error.WriteLineAsync($"bench: could not {what}: {ex.Message}");
        }
    }
}
