using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Enrollment;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Run;

/// <summary>
/// Keeps the relay's queue credentials and command keys current through <c>POST /api/relay/credentials</c>, a
/// request signed with the node's key. It renews half-way through the credentials' lifetime, and at once when the
/// queue service refuses them (expired or revoked) or a command names a key this relay has not heard of (the control
/// plane rotated its keys). Renewals never overlap; a failed one is tried again with back-off, and the relay keeps
/// working meanwhile on the credentials it has.
/// </summary>
public sealed partial class CredentialRenewer(
    RelayIdentity identity,
    RelayQueues queues,
    IOptions<RelayOptions> options,
    HttpClient http,
    TimeProvider time,
    ILogger<CredentialRenewer> logger) : BackgroundService
{
    /// <summary>On-demand renewals (refused credentials, an unknown kid) at most this often, so a stray message cannot make the relay hammer the control plane.</summary>
    public static readonly TimeSpan OnDemandInterval = TimeSpan.FromSeconds(30);

    static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(5);
    static readonly TimeSpan MaxRetry = TimeSpan.FromMinutes(5);

    readonly Lock _gate = new();
    TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    Task<bool>? _running;
    string? _requested;
    DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;

    /// <summary>Asks for a renewal soon (the background loop does it), e.g. because the queue service refused the credentials.</summary>
    public void Request(string reason)
    {
        lock (_gate)
        {
            _requested ??= reason;
            _wake.TrySetResult();
        }
    }

    /// <summary>
    /// Makes sure the command key <paramref name="kid"/> is known, renewing to fetch the control plane's current keys
    /// unless that was tried within <see cref="OnDemandInterval"/>. True when the key is known afterwards.
    /// </summary>
    public async Task<bool> FetchCommandKeyAsync(string kid, CancellationToken ct)
    {
        if (identity.CommandKeyIds.Contains(kid))
        {
            return true;
        }

        Task<bool> renewal;
        lock (_gate)
        {
            if (_running is not { IsCompleted: false } && time.GetUtcNow() - _lastAttempt < OnDemandInterval)
            {
                return false;
            }

            renewal = StartLocked($"a command is signed with key {kid}, which this relay does not know yet");
        }

        await renewal.WaitAsync(ct);
        return identity.CommandKeyIds.Contains(kid);
    }

    /// <summary>Renews now (or joins the renewal under way); true when it succeeded.</summary>
    public Task<bool> RenewAsync(string reason)
    {
        lock (_gate)
        {
            return StartLocked(reason);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (identity.State.SealingKeyRegisteredAt is null)
        {
            // The control plane seals secrets only to a key it has: register this node's at once.
            Request("the node's sealing key is not registered yet");
        }

        var failures = 0;
        DateTimeOffset? retryAt = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var at = retryAt ?? identity.State.RenewalDueAt;
            string? requested;
            Task wake;
            lock (_gate)
            {
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                wake = _wake.Task;
                requested = _requested;
                // A request (refused credentials) goes ahead as soon as the on-demand limit allows; after a failure
                // the back-off rules instead, so a deleted node does not ask every few seconds.
                if (requested is not null && failures == 0)
                {
                    var allowed = _lastAttempt + OnDemandInterval;
                    at = at < allowed ? at : (allowed > now ? allowed : now);
                }
            }

            if (at > now)
            {
                await WaitAsync(wake, at - now, stoppingToken);
                continue; // look again: the deadline may have passed, or a request came in
            }

            var ok = await RenewAsync(requested ?? (retryAt is null ? "half of the credentials' lifetime has passed" : "retrying a failed renewal"));
            failures = ok ? 0 : failures + 1;
            retryAt = ok ? null : time.GetUtcNow() + Backoff.Delay(failures, FirstRetry, MaxRetry);
        }
    }

    Task<bool> StartLocked(string reason)
    {
        if (_running is { IsCompleted: false } running)
        {
            return running;
        }

        _requested = null;
        _lastAttempt = time.GetUtcNow();
        return _running = Task.Run(() => RenewOnceAsync(reason));
    }

    async Task WaitAsync(Task wake, TimeSpan wait, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // A timer cannot wait more than about 49 days and a credential lives up to 90: wake up and look again.
        var delay = Task.Delay(TimeSpan.FromTicks(Math.Min(wait.Ticks, TimeSpan.FromDays(30).Ticks)), time, timer.Token);
        await Task.WhenAny(wake, delay);
        await timer.CancelAsync();
        await delay.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    async Task<bool> RenewOnceAsync(string reason)
    {
        var state = identity.State;
        var url = new Uri(state.ControlPlane, "/api/relay/credentials");
        var request = new RenewCredentialsRequest(identity.SignRenewal(time.GetUtcNow()));
        try
        {
            using var response = await http.PostAsJsonAsync(url, request, RelayJsonContext.Default.RenewCredentialsRequest);
            if (!response.IsSuccessStatusCode)
            {
                var detail = await ProblemDetailAsync(response);
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    LogRefused(reason, detail);
                }
                else
                {
                    LogFailed(reason, $"{(int)response.StatusCode}: {detail}");
                }

                return false;
            }

            var renewed = await response.Content.ReadFromJsonAsync(RelayJsonContext.Default.RenewCredentialsResponse)
                ?? throw new JsonException("the answer is empty");
            var next = identity.Renewed(renewed.Queues, renewed.CommandSigningKeys, time.GetUtcNow());
            queues.Use(renewed.Queues);
            try
            {
                next.Save(options.Value.StateDirectory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The new credentials work in memory; after a restart the old ones are used until they expire, then renewed.
                LogSaveFailed(RelayState.PathIn(options.Value.StateDirectory), ex.Message);
            }

            LogRenewed(reason, renewed.Queues.ExpiresAt, renewed.CommandSigningKeys.Count);

            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or NotSupportedException)
        {
            LogFailed(reason, ex.GetBaseException().Message);
            return false;
        }
    }

    static async Task<string> ProblemDetailAsync(HttpResponseMessage response)
    {
        try
        {
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return problem.RootElement.TryGetProperty("detail", out var detail) && detail.GetString() is { } text ? text : response.ReasonPhrase ?? "";
        }
        catch (JsonException)
        {
            return response.ReasonPhrase ?? "";
        }
    }
}
