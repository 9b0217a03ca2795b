using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Nodes;
using Automator67.Functions.Features.Relay;
using Automator67.Functions.Queues;
using Automator67.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Features.Relay;

/// <summary>
/// Commands from <see cref="CommandSender"/> (built here, on the control plane's database, queues and command-key
/// file, as an orchestration step would use it) reach the relay signed, and the relay's results complete them.
/// </summary>
public sealed class CommandSenderTests(RelayFixture fixture) : IClassFixture<RelayFixture>, IDisposable
{
    readonly ServiceProvider _services = new ServiceCollection()
        .AddLogging()
        .AddSingleton(TimeProvider.System)
        .AddSingleton(fixture.Cp.Database.DataSource)
        .AddSingleton(fixture.Cp.Queues.Service)
        .AddSingleton(Options.Create(new QueueOptions { Prefix = fixture.Cp.Queues.Prefix }))
        .AddSingleton(Options.Create(new NodeOptions { CommandSigningKeyFile = fixture.Cp.CommandSigningKeyFile }))
        .AddSingleton<IHostEnvironment>(new HostingEnvironment { ContentRootPath = Path.GetTempPath() })
        .AddSingleton<CommandSigningKeys>()
        .AddSingleton<CommandSender>()
        .AddSingleton<CommandResults>()
        .BuildServiceProvider();

    ControlPlaneFixture Cp => fixture.Cp;

    CommandSender Sender => _services.GetRequiredService<CommandSender>();

    CommandResults Results => _services.GetRequiredService<CommandResults>();

    static JsonElement Body(object body) => JsonSerializer.SerializeToElement(body, JsonSerializerOptions.Web);

    [Fact]
    public async Task SentCommands_ArriveSignedWithAnEnrolledKey_AndTheirResultsCompleteThem()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var operation = Guid.CreateVersion7();
        var replica = new ReplicaBody(new ReplicaSelector("web", "r1", 1));

        var sent = await Sender.SendAsync(
        [
            new CommandRequest(relay.NodeId, CommandKinds.Ping, Body(new { })),
            new CommandRequest(relay.NodeId, CommandKinds.Inspect, JsonSerializer.SerializeToElement(replica, RelayJsonContext.Default.ReplicaBody), operation),
        ], ct);

        var received = (await relay.ReceiveCommandsAsync(ct)).Where(c => sent.Any(s => s.CommandId == c.Command.CommandId)).ToArray();
        Assert.Equal(sent.Select(s => s.CommandId).Order(), received.Select(r => r.Command.CommandId).Order());
        var inspect = received.Single(r => r.Command.Kind == CommandKinds.Inspect).Command;
        Assert.Equal(relay.NodeId, inspect.NodeId);
        Assert.Equal(operation, inspect.OperationId);
        Assert.Equal("web", inspect.Body.Deserialize(RelayJsonContext.Default.ReplicaBody)!.Replica.App);
        Assert.InRange(inspect.ExpiresAt - inspect.IssuedAt, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(10));
        Assert.Equal(user.AccountId, await fixture.ScalarAsync<Guid>("SELECT account_id FROM a67.relay_commands WHERE id = @id", ("id", inspect.CommandId)));
        Assert.Equal(CommandStatuses.Pending, (await Results.FindAsync(inspect.CommandId, ct))!.Status);

        await relay.SendAsync(relay.Result(sent[0].CommandId, CommandKinds.Ping, output: Body(new { pong = true })), ct);
        await relay.SendAsync(relay.Result(inspect.CommandId, CommandKinds.Inspect, ResultStatuses.Failed, error: "no such container"), ct);

        var ping = await Results.WaitAsync(sent[0].CommandId, TimeSpan.FromSeconds(20), ct);
        Assert.Equal(CommandStatuses.Succeeded, ping?.Status);
        Assert.True(ping!.Result!.Output!.Value.GetProperty("pong").GetBoolean());
        var failed = await Results.WaitAsync(inspect.CommandId, TimeSpan.FromSeconds(20), ct);
        Assert.Equal(CommandStatuses.Failed, failed?.Status);
        Assert.Equal("no such container", failed!.Result!.Error);
        Assert.NotNull(failed.CompletedAt);

        // A second result for a completed command (a relay that ran it again) changes nothing: the first one counts.
        var again = await relay.SendAsync(relay.Result(sent[0].CommandId, CommandKinds.Ping, ResultStatuses.Failed, error: "late"), ct);
        await Eventually.ThatAsync(fixture.EventsWaitingAsync, n => n == 0, ct, "the queue to empty");
        Assert.Null(await fixture.RefusalAsync(again));
        Assert.Equal(CommandStatuses.Succeeded, (await Results.FindAsync(sent[0].CommandId, ct))!.Status);
    }

    [Fact]
    public async Task Result_ForACommandSentToAnotherNode_IsRefused_AndTheCommandStaysOpen()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        using var intruder = await TestRelay.EnrollAsync(Cp, user);
        var sent = await Sender.SendAsync([new CommandRequest(relay.NodeId, CommandKinds.Ping, Body(new { }))], ct);

        var stolen = await intruder.SendAsync(intruder.Result(sent[0].CommandId, CommandKinds.Ping), ct);

        Assert.Equal("the result is for a command that was not sent to this node",
            await Eventually.ThatAsync(() => fixture.RefusalAsync(stolen), r => r is not null, ct, "the refusal"));
        Assert.Null(await Results.WaitAsync(sent[0].CommandId, TimeSpan.FromMilliseconds(300), ct));
        Assert.Empty(await intruder.ReceiveCommandsAsync(ct));

        await relay.AnswerPingsAsync(ct);
        Assert.Equal(CommandStatuses.Succeeded, (await Results.WaitAsync(sent[0].CommandId, TimeSpan.FromSeconds(20), ct))?.Status);
    }

    [Fact]
    public async Task WaitAsync_WakesOnCompletionInThisProcess_BeforeTheDatabaseSaysSo()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);
        var sent = await Sender.SendAsync([new CommandRequest(relay.NodeId, CommandKinds.Ping, Body(new { }))], ct);
        var waiting = Results.WaitAsync(sent[0].CommandId, TimeSpan.FromSeconds(20), ct);

        var signalled = new CommandOutcome(sent[0].CommandId, relay.NodeId, CommandKinds.Ping, CommandStatuses.Succeeded, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null);
        await Task.Delay(100, ct);
        Results.Complete(signalled);

        // Only the signal can have said Succeeded: the stored command is still Pending.
        Assert.Same(signalled, await waiting);
        Assert.Equal(CommandStatuses.Pending, (await Results.FindAsync(sent[0].CommandId, ct))!.Status);
    }

    [Fact]
    public async Task SendAsync_Throws_ForAnUnknownKindOrNode_AndRecordsNothing()
    {
        var ct = TestEnvironment.TimeCap();
        var user = await Cp.SignUpAsync();
        using var relay = await TestRelay.EnrollAsync(Cp, user);

        await Assert.ThrowsAsync<ArgumentException>(() => Sender.SendAsync([new CommandRequest(relay.NodeId, "format-disk", Body(new { }))], ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Sender.SendAsync(
            [new CommandRequest(relay.NodeId, CommandKinds.Ping, Body(new { })), new CommandRequest(Guid.NewGuid(), CommandKinds.Ping, Body(new { }))], ct));

        Assert.Equal(0L, await fixture.ScalarAsync<long>("SELECT count(*) FROM a67.relay_commands WHERE node_id = @n", ("n", relay.NodeId)));
        Assert.Empty(await relay.ReceiveCommandsAsync(ct));
    }

    public void Dispose() => _services.Dispose();
}
