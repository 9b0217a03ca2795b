using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Tests.Infrastructure;
using Ctx = Automator67.Contracts.Relay.RelayJsonContext;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// <c>pull-image</c> against a real registry that asks for credentials (<see cref="PrivateRegistryFixture"/>): the
/// command's credentials open it; wrong or missing ones end as a failed result that says the registry refused, the
/// relay keeps working, and the credentials never show in its logs, its journal or its events.
/// </summary>
public sealed class RelayRegistryAuthTests(RelayRunFixture fixture, PrivateRegistryFixture registry)
    : IClassFixture<RelayRunFixture>, IClassFixture<PrivateRegistryFixture>, IAsyncDisposable
{
    const string WrongPassword = "a67-wrong-test-password";

    readonly RelayScope _scope = new(fixture);

    public ValueTask DisposeAsync() => _scope.DisposeAsync();

    [Fact]
    public async Task PullImage_Succeeds_WithTheRegistrysCredentials_AndFailsSayingTheRegistryRefused_WithWrongOrNone()
    {
        var ct = TestEnvironment.TimeCap();
        // Debug: whatever the relay would log about a command, these tests see it.
        var relay = await _scope.RelayAsync(ct, settings: s => s["Logging__LogLevel__Default"] = "Debug");
        await registry.ForgetImageAsync(ct);

        var wrong = await relay.RunAsync(CommandKinds.PullImage,
            new PullImageBody(registry.Image, new RegistryCredentials(PrivateRegistryFixture.Username, WrongPassword)), Ctx.Default.PullImageBody, ct);
        var none = await relay.RunAsync(CommandKinds.PullImage, new PullImageBody(registry.Image, null), Ctx.Default.PullImageBody, ct);
        var right = await relay.RunAsync(CommandKinds.PullImage,
            new PullImageBody(registry.Image, new RegistryCredentials(PrivateRegistryFixture.Username, PrivateRegistryFixture.Password)), Ctx.Default.PullImageBody, ct);

        Assert.Equal(ResultStatuses.Failed, wrong.Status);
        Assert.Equal($"pulling {registry.Image} failed: the registry {registry.Registry} refused the credentials given for it", Headline(wrong.Error));
        Assert.Equal(ResultStatuses.Failed, none.Status);
        Assert.Equal($"pulling {registry.Image} failed: the registry {registry.Registry} asks for credentials and the command gave none", Headline(none.Error));
        Assert.True(right.Status == ResultStatuses.Succeeded, right.Error);
        var pulled = RelayHarness.OutputOf(right, Ctx.Default.PullImageOutput);
        Assert.Equal((await fixture.Docker.Client.Images.InspectImageAsync(registry.Image, ct)).ID, pulled.ImageId);

        // Still working after the refusals.
        var ping = await relay.RunAsync(CommandKinds.Ping, new Dictionary<string, string>(), RelayTestJson.Default.DictionaryStringString, ct);
        Assert.Equal(ResultStatuses.Succeeded, ping.Status);
        Assert.False(relay.Process!.HasExited, relay.Output);

        // The passwords appear nowhere the relay writes: its output, its journal, the events it sent.
        var events = string.Join('\n', relay.ResultsSeen(_ => true).Select(r => JsonSerializer.Serialize(r, Ctx.Default.CommandResult)));
        var journal = await File.ReadAllTextAsync(Path.Combine(relay.StateDirectory, "journal.jsonl"), ct);
        foreach (var secret in new[] { PrivateRegistryFixture.Password, WrongPassword })
        {
            Assert.DoesNotContain(secret, relay.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, journal, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, events, StringComparison.Ordinal);
        }

        Assert.Contains(wrong.CommandId.ToString(), relay.Output, StringComparison.Ordinal);
    }

    // The reason up to the registry's own words, which follow in parentheses.
    static string? Headline(string? error) => error is null ? null : error.Split(" (", 2)[0];
}
