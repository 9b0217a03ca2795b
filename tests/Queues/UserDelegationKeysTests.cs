using Automator67.Functions.Queues;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Automator67.Tests.Queues;

/// <summary>The cached user delegation key: reused while it outlives the SAS to sign, renewed before then.</summary>
[Collection(OAuthAzuriteGroup.Name)]
public sealed class UserDelegationKeysTests(OAuthAzuriteFixture azurite)
{
    [Fact]
    public async Task GetAsync_ReusesTheKey_WhileItOutlivesTheSas_AndFetchesASevenDayKey_WhenNot()
    {
        var ct = TestEnvironment.TimeCap();
        var stub = new DelegationKeyStub();
        var start = new DateTimeOffset(DateTimeOffset.UtcNow.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var time = new FakeTimeProvider(start);
        using var keys = new UserDelegationKeys(azurite.CreateClient(new AzuriteTokenCredential(), stub.AnswerAsync), time, NullLogger<UserDelegationKeys>.Instance);

        var first = await keys.GetAsync(start.AddDays(1), ct);
        time.Advance(TimeSpan.FromDays(5));
        var reused = await keys.GetAsync(time.GetUtcNow().AddDays(2), ct);
        time.Advance(TimeSpan.FromHours(12));
        var renewed = await keys.GetAsync(time.GetUtcNow().AddDays(2), ct);

        Assert.Same(first, reused);
        Assert.NotSame(first, renewed);
        (DateTimeOffset? Start, DateTimeOffset Expiry)[] requested = [(null, start.AddDays(7)), (null, start.AddDays(5.5).AddDays(7))];
        Assert.Equal(requested, stub.Requests);
        Assert.Equal(start.AddDays(12.5), renewed.SignedExpiresOn);
        Assert.Equal(AzuriteTokenCredential.ObjectId, renewed.SignedObjectId);
    }

    [Fact]
    public async Task GetAsync_Refuses_ASasThatWouldOutliveAnyKey()
    {
        var ct = TestEnvironment.TimeCap();
        var stub = new DelegationKeyStub();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var keys = new UserDelegationKeys(azurite.CreateClient(new AzuriteTokenCredential(), stub.AnswerAsync), time, NullLogger<UserDelegationKeys>.Instance);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => keys.GetAsync(time.GetUtcNow().AddDays(7).AddSeconds(1), ct));

        Assert.EndsWith("keep Nodes__CredentialLifetime at 7.00:00:00 or less.", refused.Message, StringComparison.Ordinal);
        Assert.Empty(stub.Requests);
    }
}
