using Automator67.Functions.Features.Auth.TwoFactor;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Features.Auth;

/// <summary>
/// A control plane for two-factor tests: its TOTP key file in a temp folder, and a per-IP limit high enough that a
/// class of tests from 127.0.0.1 never meets it (<see cref="TwoFactorRateLimitTests"/> tests that limit).
/// </summary>
public sealed class TwoFactorFixture : IAsyncLifetime
{
    readonly string _keyDirectory = Directory.CreateTempSubdirectory("a67-2fa-").FullName;

    public ControlPlaneFixture ControlPlane { get; } = new();

    public string SecretKeyFile => Path.Combine(_keyDirectory, "two-factor-key.json");

    public async ValueTask InitializeAsync()
    {
        ControlPlane.Settings["TwoFactor__SecretKeyFile"] = SecretKeyFile;
        ControlPlane.Settings["RateLimits__TwoFactorPerIpPerMinute"] = "100000";
        await ControlPlane.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await ControlPlane.DisposeAsync();
        Directory.Delete(_keyDirectory, recursive: true);
    }
}

/// <summary>
/// What an authenticator app does, for the tests: decodes the base32 secret (independently of the product) and hands
/// out codes. The server takes each time step once and only one step either side of now, so the next code is for the
/// step after the last one handed out, as long as that is at most one step ahead; otherwise it waits for the clock.
/// </summary>
public sealed class Authenticator(string base32Secret)
{
    public byte[] Secret { get; } = Decode(base32Secret);

    public string? LastCode { get; private set; }

    long _lastStep = -1;

    public async Task<string> NextCodeAsync(CancellationToken ct)
    {
        while (true)
        {
            var now = Totp.StepAt(DateTimeOffset.UtcNow);
            var step = Math.Max(_lastStep + 1, now);
            if (step <= now + 1)
            {
                _lastStep = step;
                return LastCode = Totp.Code(Secret, step);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
        }
    }

    /// <summary>A 6-digit code that is none of the codes near now, so the server must call it wrong.</summary>
    public string WrongCode()
    {
        var now = Totp.StepAt(DateTimeOffset.UtcNow);
        var near = Enumerable.Range(-3, 7).Select(offset => Totp.Code(Secret, now + offset)).ToHashSet();
        return Enumerable.Range(0, 10).Select(d => new string((char)('0' + d), 6)).First(code => !near.Contains(code));
    }

    static byte[] Decode(string base32)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in base32)
        {
            buffer = (buffer << 5) | Alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }

        return [.. bytes];
    }
}
