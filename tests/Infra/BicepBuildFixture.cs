using System.Text.Json;

namespace Automator67.Tests.Infra;

/// <summary>
/// Builds every template in infra/bicep once (<c>bicep build --pattern</c>: one process, not one per file) into a
/// temporary folder, for the tests that read the ARM JSON. Removed in <see cref="DisposeAsync"/>.
/// </summary>
public sealed class BicepBuildFixture : IAsyncLifetime
{
    readonly string _outDir = Path.Combine(Path.GetTempPath(), $"a67-bicep-{Guid.NewGuid():N}");

    public BicepCli.Result Build { get; private set; } = null!;

    public TimeSpan Elapsed { get; private set; }

    /// <summary>Every .bicep file under infra/bicep, relative to it, with forward slashes.</summary>
    public static IReadOnlyList<string> Templates =>
    [
        .. Directory.EnumerateFiles(BicepCli.TemplateFolder, "*.bicep", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(BicepCli.TemplateFolder, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal),
    ];

    public async ValueTask InitializeAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        var started = TimeProvider.System.GetTimestamp();
        Build = await BicepCli.RunAsync(["build", "--pattern", "**/*.bicep", "--outdir", _outDir], null, timeout.Token);
        Elapsed = TimeProvider.System.GetElapsedTime(started);
    }

    /// <summary>The ARM JSON built from <paramref name="template"/> (relative to infra/bicep).</summary>
    public JsonElement Json(string template)
    {
        var path = Path.Combine(_outDir, Path.ChangeExtension(template, ".json"));
        Assert.True(File.Exists(path), $"bicep build wrote no {Path.ChangeExtension(template, ".json")}\n{Build}");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.Clone();
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_outDir))
        {
            Directory.Delete(_outDir, recursive: true);
        }

        return ValueTask.CompletedTask;
    }
}
