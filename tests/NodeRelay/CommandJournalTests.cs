using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Automator67.Tests.NodeRelay;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CommandJournalTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("a67-journal-").FullName;
    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    CommandJournal Open() => new(RelayUnits.Options(o =>
    {
        o.StateDirectory = _directory;
        o.JournalRetention = TimeSpan.FromDays(7);
    }), _time, NullLogger<CommandJournal>.Instance);

    JournalEntry Entry(Guid id, TimeSpan? lifetime = null) => new(id, $"message-{id:N}", CommandKinds.RunReplica, _time.GetUtcNow(), _time.GetUtcNow() + (lifetime ?? TimeSpan.FromMinutes(5)),
        ResultStatuses.Succeeded, new CommandResult(id, null, CommandKinds.RunReplica, ResultStatuses.Succeeded, null, null, 12));

    [Fact]
    public void Record_SurvivesARestart_WithTheResult_InAPrivateFile()
    {
        var id = Guid.NewGuid();
        using (var journal = Open())
        {
            journal.Record(Entry(id));
        }

        using var reopened = Open();

        Assert.True(reopened.TryGet(id, out var entry));
        Assert.Equal($"message-{id:N}", entry.MessageId);
        Assert.Equal(12, entry.Result!.DurationMs);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, CommandJournal.FileName)));
    }

    [Fact]
    public void Open_ForgetsEntriesPastRetention_ButNotBeforeTheirCommandExpires()
    {
        var old = Guid.NewGuid();
        var longLived = Guid.NewGuid();
        using (var journal = Open())
        {
            journal.Record(Entry(old));
            journal.Record(Entry(longLived, lifetime: TimeSpan.FromDays(30)));
        }

        _time.Advance(TimeSpan.FromDays(8));
        using var reopened = Open();

        Assert.False(reopened.TryGet(old, out _));
        Assert.True(reopened.TryGet(longLived, out _));
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public void Open_SkipsALineCutShortByACrash_AndKeepsTheRest()
    {
        var id = Guid.NewGuid();
        using (var journal = Open())
        {
            journal.Record(Entry(id));
        }

        File.AppendAllText(Path.Combine(_directory, CommandJournal.FileName), "{\"commandId\":\"0199");
        using var reopened = Open();

        Assert.True(reopened.TryGet(id, out _));
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public void Record_CompactsTheFile_SoItDoesNotGrowWithForgottenEntries()
    {
        using var journal = Open();
        for (var i = 0; i < 3000; i++)
        {
            journal.Record(Entry(Guid.NewGuid()));
            _time.Advance(TimeSpan.FromMinutes(10));
        }

        // 3000 commands over ~21 days with a 7-day retention: about a third are remembered (1008, plus at most one
        // pruning round), and the file holds at most twice that.
        var lines = File.ReadLines(Path.Combine(_directory, CommandJournal.FileName)).Count();
        Assert.InRange(journal.Count, 1008, 1008 + 256);
        Assert.True(lines <= 2 * journal.Count, $"{lines} lines for {journal.Count} entries");
    }
}
