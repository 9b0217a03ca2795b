namespace Automator67.NodeRelay.Run;

/// <summary>
/// Exponential back-off with jitter: after the n-th failure wait between half and all of min(cap, first·2ⁿ), chosen at
/// random, so that relays that lost the same Azurite or Docker Engine do not all come back in step.
/// </summary>
public static class Backoff
{
    public static TimeSpan Delay(int failures, TimeSpan first, TimeSpan cap)
    {
        var ceiling = Math.Min(cap.TotalMilliseconds, first.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 20)));
        // Never less than half the ceiling: a delay near zero would turn an outage into a busy loop.
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }
}
