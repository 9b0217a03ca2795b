using System.Security.Cryptography;
using System.Web;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Queues;
using Automator67.Tests.Infrastructure;
using Automator67.Tests.Queues;
using Azure;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Automator67.Tests.Features.Nodes;

/// <summary>
/// A relay's queue credentials, signed with the account key (the stack's Azurite) or, with an identity, a user
/// delegation key (the HTTPS, --oauth Azurite; its queue service has no Get User Delegation Key, so a stub answers that one call).
/// </summary>
[Collection(OAuthAzuriteGroup.Name)]
public sealed class QueueCredentialIssuerTests(OAuthAzuriteFixture azurite, QueueFixture stack) : IClassFixture<QueueFixture>
{
    static DateTimeOffset WholeSeconds(DateTimeOffset time) => new(time.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);

    [Fact]
    public async Task IssueAsync_SignsTheSameScopesWithAUserDelegationKey_WhenReachedWithAnIdentity()
    {
        var ct = TestEnvironment.TimeCap();
        var stub = new DelegationKeyStub();
        var time = new FakeTimeProvider(WholeSeconds(DateTimeOffset.UtcNow));
        var client = azurite.CreateClient(new AzuriteTokenCredential(), stub.AnswerAsync);
        using var keys = new UserDelegationKeys(client, time, NullLogger<UserDelegationKeys>.Instance);
        var issuer = new QueueCredentialIssuer(client, keys, Options.Create(new QueueOptions { Prefix = azurite.Prefix }));
        var nodeId = Guid.NewGuid();
        var expires = time.GetUtcNow().AddDays(7);

        var issued = await issuer.IssueAsync(nodeId, expires, ct);
        var byAccountKey = await new QueueCredentialIssuer(stack.Service, null!, Options.Create(new QueueOptions { Prefix = stack.Prefix })).IssueAsync(nodeId, expires, ct);

        Assert.Equal(new Uri(azurite.ServiceUri, $"devstoreaccount1/{azurite.Prefix}-node-{nodeId:N}").AbsolutePath, issued.CommandQueue.AbsolutePath);
        Assert.Equal($"/devstoreaccount1/{azurite.Prefix}-relay-events", issued.EventsQueue.AbsolutePath);
        Assert.Equal(expires, issued.ExpiresAt);
        var (commands, events) = (HttpUtility.ParseQueryString(issued.CommandQueue.Query), HttpUtility.ParseQueryString(issued.EventsQueue.Query));
        var (keyCommands, keyEvents) = (HttpUtility.ParseQueryString(byAccountKey.CommandQueue.Query), HttpUtility.ParseQueryString(byAccountKey.EventsQueue.Query));
        Assert.Equal(("rup", "a"), (commands["sp"], events["sp"]));
        Assert.Equal((keyCommands["sp"], keyEvents["sp"]), (commands["sp"], events["sp"]));
        Assert.Null(keyCommands["skoid"]);
        foreach (var sas in new[] { commands, events })
        {
            Assert.Equal(AzuriteTokenCredential.ObjectId, sas["skoid"]);
            Assert.Equal(AzuriteTokenCredential.TenantId, sas["sktid"]);
            Assert.Equal("q", sas["sks"]);
            Assert.Equal(expires, DateTimeOffset.Parse(sas["se"]!, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(expires, DateTimeOffset.Parse(sas["ske"]!, System.Globalization.CultureInfo.InvariantCulture));
        }

        // The signature is the HMAC of the string to sign under the key the service handed out (the stub's value).
        var key = await keys.GetAsync(expires, ct);
        var commandQueue = client.GetQueueClient($"{azurite.Prefix}-node-{nodeId:N}");
        var again = commandQueue.GenerateUserDelegationSasUri(QueueCredentialIssuer.CommandPermissions, expires, key, out var stringToSign);
        Assert.Equal(issued.CommandQueue, again);
        Assert.Contains($"/queue/devstoreaccount1/{azurite.Prefix}-node-{nodeId:N}", stringToSign, StringComparison.Ordinal);
        Assert.Equal(Convert.ToBase64String(HMACSHA256.HashData(stub.KeyValue, System.Text.Encoding.UTF8.GetBytes(stringToSign))), commands["sig"]);
        Assert.Single(stub.Requests);
        Assert.True((await client.GetQueueClient($"{azurite.Prefix}-node-{nodeId:N}").ExistsAsync(ct)).Value);
        await commandQueue.DeleteAsync(ct);
    }

    [Fact]
    public async Task IssueAsync_WithAnAccountKey_IssuesSasARelayUses()
    {
        var ct = TestEnvironment.TimeCap();
        var issuer = new QueueCredentialIssuer(stack.Service, null!, Options.Create(new QueueOptions { Prefix = stack.Prefix }));

        var issued = await issuer.IssueAsync(Guid.NewGuid(), DateTimeOffset.UtcNow.AddHours(1), ct);
        await stack.Service.GetQueueClient(new QueueUriBuilder(issued.CommandQueue).QueueName).SendMessageAsync("command", ct);
        var received = (await new QueueClient(issued.CommandQueue).ReceiveMessageAsync(cancellationToken: ct)).Value;
        await new QueueClient(issued.EventsQueue).SendMessageAsync("event", ct);

        Assert.Equal("command", received.Body.ToString());
        Assert.Null(HttpUtility.ParseQueryString(issued.CommandQueue.Query)["skoid"]);
    }

    // Two gaps of Azurite 3.37's queue service, pinned so that the day it closes them these fail and say so: then drop
    // the stub and test a relay's use of a user delegation SAS end to end.
    [Fact]
    public async Task Azurite_HasNoGetUserDelegationKey_ForQueues()
    {
        var ct = TestEnvironment.TimeCap();
        var client = azurite.CreateClient(new AzuriteTokenCredential());
        using var keys = new UserDelegationKeys(client, TimeProvider.System, NullLogger<UserDelegationKeys>.Instance);
        var issuer = new QueueCredentialIssuer(client, keys, Options.Create(new QueueOptions { Prefix = azurite.Prefix }));

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => issuer.IssueAsync(Guid.NewGuid(), DateTimeOffset.UtcNow.AddDays(1), ct));

        Assert.Equal(400, refused.Status);
    }

    [Fact]
    public async Task Azurite_RefusesAUserDelegationSas_ItChecksQueueSasOnlyAgainstTheAccountKey()
    {
        var ct = TestEnvironment.TimeCap();
        var stub = new DelegationKeyStub();
        var client = azurite.CreateClient(new AzuriteTokenCredential(), stub.AnswerAsync);
        using var keys = new UserDelegationKeys(client, TimeProvider.System, NullLogger<UserDelegationKeys>.Instance);
        var issued = await new QueueCredentialIssuer(client, keys, Options.Create(new QueueOptions { Prefix = azurite.Prefix }))
            .IssueAsync(Guid.NewGuid(), DateTimeOffset.UtcNow.AddDays(1), ct);

        var relay = new QueueClient(issued.EventsQueue, azurite.ClientOptions());
        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => relay.SendMessageAsync("event", ct));

        Assert.Equal(403, refused.Status);
        await client.GetQueueClient(new QueueUriBuilder(issued.CommandQueue).QueueName).DeleteAsync(ct);
    }
}
