using System.Text.Json;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Relay;
using Automator67.Functions.Queues;
using Azure;
using Azure.Core;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Bench;

/// <summary>
/// One command's round trip as the product makes it. Sent with the product's own <see cref="CommandSender"/> (recorded
/// Pending in <c>a67.relay_commands</c>, signed with the control plane's command key, added to the node's queue), with
/// the control plane's settings: the same database, queue prefix, key file and queue client options. Nothing offers
/// an arbitrary command over HTTP, so the sender runs in the bench's process (its CPU shows as the bench's); everything
/// after the enqueue is the real relay and the real control plane, up to the result being applied.
/// </summary>
public sealed class CommandRoundTrip : IAsyncDisposable
{
    /// <summary>A command without a result by then counts as failed ("no result"): a lost command must not stall its sender.</summary>
    public static readonly TimeSpan ResultTimeout = TimeSpan.FromSeconds(30);

    readonly NpgsqlDataSource _dataSource;
    readonly CommandSender _sender;
    readonly RowWatch<AppliedResult> _results;
    readonly List<double> _appliedLatencies = [];

    CommandRoundTrip(NpgsqlDataSource dataSource, CommandSender sender)
    {
        _dataSource = dataSource;
        _sender = sender;
        _results = AppliedResults.Start(dataSource);
    }

    /// <summary>
    /// The key ring reads the control plane's command key file, which the control plane creates when it first needs
    /// it (an enrolment hands out the public keys); made here first, it would create it the same way, under the same
    /// file lock, and the control plane would load it.
    /// </summary>
    public static CommandRoundTrip Create(BenchSettings settings, RunResources resources, ControlPlaneProcess controlPlane)
    {
        var dataSource = NpgsqlDataSource.Create(resources.ConnectionString);
        // The control plane's QueueRegistration options, so an enqueue costs here what it costs there.
        var clientOptions = new QueueClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = 2;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(200);
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        var nodeOptions = Options.Create(new NodeOptions { CommandSigningKeyFile = controlPlane.CommandSigningKeyFile });
        var keys = new CommandSigningKeys(nodeOptions, TimeProvider.System, new KeyFolderEnvironment(Path.GetDirectoryName(controlPlane.CommandSigningKeyFile)!));
        var sender = new CommandSender(dataSource, new QueueServiceClient(settings.Storage, clientOptions), Options.Create(new QueueOptions { Prefix = settings.QueuePrefix }),
            keys, nodeOptions, TimeProvider.System, NullLogger<CommandSender>.Instance);
        return new CommandRoundTrip(dataSource, sender);
    }

    /// <summary>Sends one command and waits until its result is applied: null when it succeeded, else a short name for how it failed.</summary>
    public async Task<string?> RunAsync(Guid nodeId, string kind, JsonElement body, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ResultTimeout);
        try
        {
            var sent = await _sender.SendAsync([new CommandRequest(nodeId, kind, body)], timeout.Token);
            var result = await _results.WaitAsync(sent[0].CommandId, timeout.Token);
            lock (_appliedLatencies)
            {
                _appliedLatencies.Add(result.Latency.TotalMilliseconds);
            }

            return result.Status == CommandStatuses.Succeeded ? null : $"{result.Status}: {Shorten(result.Error)}";
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no result within {ResultTimeout.TotalSeconds:0} s";
        }
        catch (Exception ex) when (ex is NpgsqlException or RequestFailedException)
        {
            return $"send failed: {Shorten(ex.Message)}";
        }
    }

    /// <summary>The product's own latencies (created → applied) of every result since the last call, then forgets them.</summary>
    public Timings TakeAppliedLatencies()
    {
        lock (_appliedLatencies)
        {
            var timings = Timings.From(_appliedLatencies);
            _appliedLatencies.Clear();
            return timings;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _results.DisposeAsync();
        await _dataSource.DisposeAsync();
    }

    static string Shorten(string? text) => text is null ? "-" : text.Length > 80 ? text[..80] + "…" : text;
}
