using System.Diagnostics;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Auth.Passwords;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.Extensions.Options;

namespace Automator67.Bench;

/// <summary>
/// The two costs every auth request is made of, measured in this process with the product's own classes and its
/// default settings (the control plane under test runs with the same defaults): one Argon2id hash (and the verify
/// that login actually pays) and one access-token validation.
/// </summary>
public static class Baselines
{
    // Argon2id takes tens of milliseconds: 50 samples keep this phase at a few seconds; their p99 is their maximum.
    const int HashSamples = 50;
    const int ValidationSamples = 20_000;

    public static async Task<BaselineResult> MeasureAsync(string keyDirectory, CancellationToken ct)
    {
        var settings = new AuthOptions { SigningKeyFile = Path.Combine(keyDirectory, "baseline-keys.json") };
        var options = Options.Create(settings);
        var hasher = new PasswordHasher(options);
        const string password = "bench baseline correct horse";

        var hash = Measure(HashSamples, warmup: 5, () => hasher.Hash(password), ct);
        var stored = hasher.Hash(password);
        var verify = Measure(HashSamples, warmup: 5, () =>
        {
            if (!hasher.Verify(stored, password))
            {
                throw new InvalidOperationException("the baseline hash does not verify");
            }
        }, ct);

        var tokens = new AccessTokens(new SigningKeyRing(options, TimeProvider.System, new KeyFolderEnvironment(keyDirectory)), options, TimeProvider.System);
        var token = tokens.Issue(Guid.CreateVersion7(), Guid.CreateVersion7(), "user").Token;
        var validation = await MeasureAsync(ValidationSamples, warmup: 500, async () =>
        {
            // A refused token would time the failure path: each one must validate.
            var (identity, problem) = await tokens.ValidateAsync(token);
            _ = identity ?? throw new InvalidOperationException($"the baseline token was refused: {problem}");
        }, ct);

        return new BaselineResult(settings.PasswordHashMemoryMiB, settings.PasswordHashIterations, hash, verify, validation);
    }

    static Cost Measure(int samples, int warmup, Action action, CancellationToken ct) =>
        MeasureAsync(samples, warmup, () =>
        {
            action();
            return Task.CompletedTask;
        }, ct).GetAwaiter().GetResult();

    static async Task<Cost> MeasureAsync(int samples, int warmup, Func<Task> action, CancellationToken ct)
    {
        for (var i = 0; i < warmup; i++)
        {
            ct.ThrowIfCancellationRequested();
            await action();
        }

        var elapsed = new double[samples];
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        for (var i = 0; i < samples; i++)
        {
            ct.ThrowIfCancellationRequested();
            var start = Stopwatch.GetTimestamp();
            await action();
            elapsed[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        self.Refresh();
        return new Cost(Timings.From(elapsed), (self.TotalProcessorTime - cpu).TotalMilliseconds / samples);
    }
}

/// <summary>Password hashing parameters and the three costs.</summary>
public sealed record BaselineResult(int MemoryMiB, int Iterations, Cost Hash, Cost Verify, Cost TokenValidation);

/// <summary>
/// One operation's wall time (ms per sample) and the CPU this process spent per operation (ms, mean over the samples,
/// a little of it the runtime's own threads). On a quiet machine the two agree; wall well above CPU means the
/// operation waited for a core, so the run was disturbed.
/// </summary>
public sealed record Cost(Timings Wall, double CpuMs);
