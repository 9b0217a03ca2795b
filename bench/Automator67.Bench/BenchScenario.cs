namespace Automator67.Bench;

/// <summary>Which workloads a run measures (<c>--scenario</c>).</summary>
public enum BenchScenario
{
    All,
    Auth,
    Relay,
    Deploy,
    Sweeps,
}
