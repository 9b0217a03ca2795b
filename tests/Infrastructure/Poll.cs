namespace Automator67.Tests.Infrastructure;

/// <summary>Waiting for the product to get somewhere: read, check, wait a little, again; the test's token bounds it.</summary>
public static class Poll
{
    /// <summary>Reads until <paramref name="done"/> holds for what was read, and returns that.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan interval, CancellationToken ct)
    {
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            await Task.Delay(interval, ct);
        }
    }
}
