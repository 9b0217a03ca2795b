using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Automator67.Functions.Queues;

/// <summary>
/// The user delegation key that signs relays' SAS when the control plane reaches the queues with an identity and so
/// holds no account key. A SAS signed with a key stops working when the key expires, so a key is reused only while it
/// outlives the SAS being issued; otherwise a new one is fetched, valid for the longest Azure allows (7 days).
/// </summary>
/// <remarks>
/// With <c>Nodes__CredentialLifetime</c> at its 7-day default every issue outlives the cached key, and costs one key
/// request (issues are rare: an enrolment, a renewal every few days per node). With a shorter lifetime L one key
/// serves every issue for 7 days − L.
/// </remarks>
public sealed partial class UserDelegationKeys(QueueServiceClient queues, TimeProvider time, ILogger<UserDelegationKeys> logger) : IDisposable
{
    /// <summary>The longest a user delegation key may live (Azure's limit), so also the longest SAS it signs.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(7);

    readonly SemaphoreSlim _gate = new(1, 1);
    UserDelegationKey? _current;

    /// <summary>A key valid until <paramref name="validUntil"/> at least: the cached one, or a new one.</summary>
    public async Task<UserDelegationKey> GetAsync(DateTimeOffset validUntil, CancellationToken ct)
    {
        if (Covers(_current, validUntil) is { } cached)
        {
            return cached;
        }

        await _gate.WaitAsync(ct);
        try
        {
            if (Covers(_current, validUntil) is { } fetchedMeanwhile)
            {
                return fetchedMeanwhile;
            }

            var expires = time.GetUtcNow() + MaxLifetime;
            if (validUntil > expires)
            {
                throw new InvalidOperationException(
                    $"A SAS valid until {validUntil:O} can't be signed with a user delegation key, which lives at most 7 days; keep Nodes__CredentialLifetime at 7.00:00:00 or less.");
            }

            // No start time: the key is valid from the service's "now", so our clock running ahead can't make it not yet valid.
            var key = (await queues.GetUserDelegationKeyAsync(new QueueGetUserDelegationKeyOptions(expires), ct)).Value;
            _current = key;
            LogKeyFetched(key.SignedExpiresOn, key.SignedObjectId);
            return key;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A key valid now: what readiness asks for, answered from the cache after the first time.</summary>
    public Task<UserDelegationKey> GetCurrentAsync(CancellationToken ct) => GetAsync(time.GetUtcNow(), ct);

    public void Dispose() => _gate.Dispose();

    static UserDelegationKey? Covers(UserDelegationKey? key, DateTimeOffset validUntil) => key is not null && key.SignedExpiresOn >= validUntil ? key : null;
}
