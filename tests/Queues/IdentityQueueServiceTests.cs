using Automator67.Functions.Features.Health;
using Automator67.Functions.Queues;
using Automator67.Tests.Infrastructure;
using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Queues;

/// <summary>The control plane's queue client with an identity, against a real Azurite that checks bearer tokens (HTTPS, --oauth basic).</summary>
[Collection(OAuthAzuriteGroup.Name)]
public sealed class IdentityQueueServiceTests(OAuthAzuriteFixture azurite)
{
    [Fact]
    public async Task Client_CreatesSendsAndReceives_WithABearerTokenForStorage()
    {
        var ct = TestEnvironment.TimeCap();
        var credential = new AzuriteTokenCredential();
        var queue = azurite.CreateClient(credential).GetQueueClient($"{azurite.Prefix}-token");

        await queue.CreateIfNotExistsAsync(cancellationToken: ct);
        await queue.SendMessageAsync("hello", ct);
        var received = (await queue.ReceiveMessageAsync(cancellationToken: ct)).Value;
        await queue.DeleteAsync(ct);

        Assert.Equal("hello", received.Body.ToString());
        Assert.Contains("https://storage.azure.com/.default", credential.Scopes);
    }

    [Fact]
    public async Task Readiness_IsHealthy_AndFetchesTheDelegationKeyOnce_WithAnIdentity()
    {
        var ct = TestEnvironment.TimeCap();
        var stub = new DelegationKeyStub();
        var client = azurite.CreateClient(new AzuriteTokenCredential(), stub.AnswerAsync);
        using var keys = new UserDelegationKeys(client, TimeProvider.System, NullLogger<UserDelegationKeys>.Instance);
        var check = new QueueReadinessCheck(client, Options.Create(new QueueOptions { Prefix = azurite.Prefix }), keys);

        var first = await check.CheckHealthAsync(new HealthCheckContext(), ct);
        var second = await check.CheckHealthAsync(new HealthCheckContext(), ct);

        Assert.Equal(HealthStatus.Healthy, first.Status);
        Assert.StartsWith($"queue service reachable with an identity, {azurite.Prefix}-relay-events present, user delegation key valid until ", first.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, second.Status);
        Assert.Single(stub.Requests);
    }

    [Fact]
    public async Task Readiness_IsUnhealthy_WhenAzuriteRefusesAnExpiredToken()
    {
        var ct = TestEnvironment.TimeCap();
        var client = azurite.CreateClient(new AzuriteTokenCredential(lifetime: TimeSpan.FromMinutes(-5)));
        var check = new QueueReadinessCheck(client, Options.Create(new QueueOptions { Prefix = azurite.Prefix }));

        var result = await check.CheckHealthAsync(new HealthCheckContext(), ct);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("queue service refused: 403 AuthenticationFailed", result.Description);
    }

    [Fact]
    public async Task Readiness_IsUnhealthy_NamingTheCredential_WhenNoTokenCanBeHad()
    {
        var ct = TestEnvironment.TimeCap();
        var client = azurite.CreateClient(new UnavailableCredential());
        var check = new QueueReadinessCheck(client, Options.Create(new QueueOptions { Prefix = azurite.Prefix }));

        var result = await check.CheckHealthAsync(new HealthCheckContext(), ct);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("queue credential failed: ManagedIdentityCredential authentication unavailable. No managed identity endpoint found.", result.Description);
    }

    // What ManagedIdentityCredential throws where no identity exists. The real one would probe the instance metadata
    // address, which is not on loopback, so it is never run here.
    sealed class UnavailableCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw new CredentialUnavailableException("ManagedIdentityCredential authentication unavailable. No managed identity endpoint found.\nSee the troubleshooting guide.");

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
