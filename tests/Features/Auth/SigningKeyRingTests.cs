using System.Text.Json;
using Automator67.Functions.Features.Auth;
using Automator67.Functions.Features.Auth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Automator67.Tests.Features.Auth;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

public sealed class SigningKeyRingTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("a67-ring-").FullName;
    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
    readonly AuthOptions _options = new() { SigningKeyLifetime = TimeSpan.FromDays(30), AccessTokenLifetime = TimeSpan.FromMinutes(15) };

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string KeyFile => Path.Combine(_dir, "keys", "signing-keys.json");

    SigningKeyRing NewRing()
    {
        _options.SigningKeyFile = KeyFile;
        return new SigningKeyRing(Options.Create(_options), _time, new Env(_dir));
    }

    AccessTokens Tokens(SigningKeyRing ring) => new(ring, Options.Create(_options), _time);

    [Fact]
    public void FirstStart_CreatesTheKeyFile_ReadableByItsOwnerOnly()
    {
        var ring = NewRing();

        Assert.True(File.Exists(KeyFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
        Assert.Single(ring.ValidationKeys);
        Assert.False(string.IsNullOrEmpty(ring.Active.KeyId));
        Assert.Equal(ring.Active.KeyId, NewRing().Active.KeyId); // a restart reads the same key
    }

    [Fact]
    public async Task Rotation_KeepsThePreviousKey_UntilItsTokensHaveExpired()
    {
        var ring = NewRing();
        var oldToken = Tokens(ring).Issue(Guid.NewGuid(), Guid.NewGuid(), Roles.User);
        var oldKid = ring.Active.KeyId;

        _time.Advance(TimeSpan.FromDays(30) - TimeSpan.FromMinutes(5));
        ring.LoadOrRotate();
        Assert.Equal(oldKid, ring.Active.KeyId);

        // Past the key's lifetime: a new key signs, the old one still verifies what it signed.
        _time.Advance(TimeSpan.FromMinutes(5));
        ring.LoadOrRotate();
        var rotated = NewRing();
        Assert.NotEqual(oldKid, rotated.Active.KeyId);
        Assert.Equal(2, rotated.ValidationKeys.Count());
        Assert.Equal(2, rotated.Jwks.Keys.Count);
        var reissued = Tokens(rotated).Issue(Guid.NewGuid(), Guid.NewGuid(), Roles.User);
        Assert.NotNull((await Tokens(rotated).ValidateAsync(reissued.Token)).Identity);

        // A token lifetime (plus a minute) later the old key is gone from the file and the JWKS.
        _time.Advance(TimeSpan.FromMinutes(16));
        rotated.LoadOrRotate();
        Assert.Single(rotated.ValidationKeys);
        using var file = JsonDocument.Parse(await File.ReadAllTextAsync(KeyFile, TestEnvironment.TimeCap()));
        Assert.Single(file.RootElement.GetProperty("keys").EnumerateArray());
        Assert.Null((await Tokens(rotated).ValidateAsync(oldToken.Token)).Identity);
    }

    [Fact]
    public async Task Validation_HonoursThirtySecondsOfSkew_AtBothEnds()
    {
        var ring = NewRing();
        var validator = Tokens(ring);
        // Issued by a clock 31 s ahead of the validating one.
        var issuerClock = new FakeTimeProvider(_time.GetUtcNow() + TimeSpan.FromSeconds(31));
        var token = new AccessTokens(ring, Options.Create(_options), issuerClock).Issue(Guid.NewGuid(), Guid.NewGuid(), Roles.User).Token;

        Assert.Equal("the token is not valid yet", (await validator.ValidateAsync(token)).Problem);
        _time.Advance(TimeSpan.FromSeconds(2)); // now 29 s early
        Assert.NotNull((await validator.ValidateAsync(token)).Identity);

        _time.Advance(TimeSpan.FromSeconds(29) + TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(29)); // expired 29 s ago
        Assert.NotNull((await validator.ValidateAsync(token)).Identity);
        _time.Advance(TimeSpan.FromSeconds(2)); // expired 31 s ago
        Assert.Equal("the token has expired", (await validator.ValidateAsync(token)).Problem);
    }

    [Fact]
    public void DamagedKeyFile_StopsTheStart_WithOneLineSayingWhatToDo()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyFile)!);
        File.WriteAllText(KeyFile, "{ not json");

        var error = Assert.Throws<Automator67.Hosting.StartupException>(NewRing);

        Assert.Contains("is damaged", error.Message, StringComparison.Ordinal);
        Assert.Contains("restore it from a backup", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunningProcess_RotatesBothRings_WhenTheirKeysGrowOld()
    {
        var ring = NewRing();
        var nodeOptions = new Automator67.Functions.Features.Nodes.NodeOptions
        {
            CommandSigningKeyFile = Path.Combine(_dir, "keys", "command-signing-keys.json"),
            CommandSigningKeyLifetime = TimeSpan.FromDays(30),
        };
        var commandKeys = new Automator67.Functions.Features.Nodes.CommandSigningKeys(Options.Create(nodeOptions), _time, new Env(_dir));
        var services = new ServiceCollection()
            .AddSingleton(ring)
            .AddSingleton(commandKeys)
            .BuildServiceProvider();
        var (accessKid, commandKid) = (ring.Active.KeyId, commandKeys.Ring.Active.KeyId);
        using var rotation = new Automator67.Functions.Features.Nodes.SigningKeyRotation(services, _time,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Automator67.Functions.Features.Nodes.SigningKeyRotation>.Instance);
        await rotation.StartAsync(TestContext.Current.CancellationToken);

        // Hour by hour (the service's loop starts on its own thread, so its timer may start a little later) until past
        // the keys' 30 days: the process never restarts, and both rings move on to a new key.
        bool Rotated() => ring.Active.KeyId != accessKid && commandKeys.Ring.Active.KeyId != commandKid;
        for (var hour = 0; hour < 40 * 24 && !Rotated(); hour++)
        {
            _time.Advance(Automator67.Functions.Features.Nodes.SigningKeyRotation.Interval);
            await Task.Delay(1, TestContext.Current.CancellationToken);
        }

        await WaitUntilAsync(Rotated);
        Assert.True(_time.GetUtcNow() >= new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), $"rotated early, at {_time.GetUtcNow():O}");
        await rotation.StopAsync(TestContext.Current.CancellationToken);
    }

    static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(condition());
    }

    sealed class Env(string root) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Test";
        public string ApplicationName { get; set; } = "tests";
        public string ContentRootPath { get; set; } = root;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }
}
