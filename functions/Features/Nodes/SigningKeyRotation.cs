using Automator67.Functions.Features.Auth.Tokens;

namespace Automator67.Functions.Features.Nodes;

/// <summary>
/// Rotates the access-token and command-signing keys while the process runs, not only when it starts: every hour each
/// ring re-reads its file (another process may have rotated it) and replaces a key past its lifetime. Relays learn a
/// new command key when they renew, or as soon as a command names it.
/// </summary>
public sealed partial class SigningKeyRotation(IServiceProvider services, TimeProvider time, ILogger<SigningKeyRotation> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await WaitAsync(timer, stoppingToken))
        {
            // Resolved at the first tick, not at start: a key file that cannot be read must not stop the host from starting
            // (its first real use says what is wrong).
            foreach (var (name, ring) in new (string, Func<SigningKeyRing>)[]
            {
                ("access-token", services.GetRequiredService<SigningKeyRing>),
                ("command-signing", () => services.GetRequiredService<CommandSigningKeys>().Ring),
            })
            {
                try
                {
                    ring().LoadOrRotate();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException)
                {
                    // The keys in memory keep working; the next hour tries again.
                    LogRotationFailed(name, ex.Message);
                }
            }
        }
    }

    static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1350, Level = LogLevel.Warning, Message = "The {Ring} keys could not be reloaded or rotated: {Reason}")]
    partial void LogRotationFailed(string ring, string reason);
}
