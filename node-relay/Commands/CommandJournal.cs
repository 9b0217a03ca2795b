using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Automator67.Contracts.Relay;
using Automator67.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Commands;

/// <summary>
/// The commands this relay has executed, with their results: an append-only file of JSON lines in the state folder
/// (mode 0600) that survives restarts, so a command is never executed twice. An entry is kept for
/// <see cref="RelayOptions.JournalRetention"/> and at least until its command expires (after that a replay is refused
/// as expired anyway). The file is rewritten, whole or not at all, once it holds mostly forgotten entries.
/// </summary>
public sealed partial class CommandJournal : IDisposable
{
    public const string FileName = "journal.jsonl";

    const int PruneEvery = 256;

    readonly Dictionary<Guid, JournalEntry> _entries = [];
    readonly string _path;
    readonly TimeSpan _retention;
    readonly TimeProvider _time;
    readonly ILogger<CommandJournal> _logger;
    FileStream _file;
    int _linesInFile;
    int _recordsSincePrune;

    public CommandJournal(IOptions<RelayOptions> options, TimeProvider time, ILogger<CommandJournal> logger)
    {
        _path = Path.Combine(options.Value.StateDirectory, FileName);
        _retention = options.Value.JournalRetention;
        _time = time;
        _logger = logger;
        Load();
        _file = Rewrite();
    }

    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryGet(Guid commandId, out JournalEntry entry)
    {
        lock (_entries)
        {
            return _entries.TryGetValue(commandId, out entry!);
        }
    }

    /// <summary>Records an executed command; on disk (flushed) before this returns.</summary>
    public void Record(JournalEntry entry)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(entry, JournalJsonContext.Default.JournalEntry);
        lock (_entries)
        {
            _entries[entry.CommandId] = entry;
            _file.Write(line);
            _file.WriteByte((byte)'\n');
            // To the disk, not only the kernel: the journal is what keeps a command from running twice after a power cut.
            _file.Flush(flushToDisk: true);
            _linesInFile++;
            // Forget old entries now and then, so memory holds about one retention period of commands, however long the relay runs.
            if (++_recordsSincePrune >= PruneEvery)
            {
                Prune();
            }

            if (_linesInFile > Math.Max(1000, 2 * _entries.Count))
            {
                Prune();
                _file.Dispose();
                _file = Rewrite();
            }
        }
    }

    void Load()
    {
        if (!File.Exists(_path))
        {
            return;
        }

        var damaged = 0;
        foreach (var line in File.ReadLines(_path, Encoding.UTF8))
        {
            try
            {
                if (JsonSerializer.Deserialize(line, JournalJsonContext.Default.JournalEntry) is { } entry)
                {
                    _entries[entry.CommandId] = entry;
                }
            }
            catch (JsonException)
            {
                // Only a write cut short by a crash or power loss leaves a broken line: that command was never recorded.
                damaged++;
            }
        }

        if (damaged > 0)
        {
            LogDamagedLines(_path, damaged);
        }

        Prune();
    }

    void Prune()
    {
        _recordsSincePrune = 0;
        var now = _time.GetUtcNow();
        foreach (var (id, entry) in _entries.Where(e => Forgotten(e.Value, now)).ToList())
        {
            _entries.Remove(id);
        }
    }

    bool Forgotten(JournalEntry entry, DateTimeOffset now) =>
        entry.ExecutedAt + _retention < now && entry.ExpiresAt + CommandVerifier.ClockSkew < now;

    // Writes the live entries to a private temporary file, renames it over the journal and keeps it open for appends.
    FileStream Rewrite()
    {
        PrivateFile.Write(_path, stream =>
        {
            foreach (var entry in _entries.Values)
            {
                stream.Write(JsonSerializer.SerializeToUtf8Bytes(entry, JournalJsonContext.Default.JournalEntry));
                stream.WriteByte((byte)'\n');
            }
        });
        _linesInFile = _entries.Count;
        return new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public void Dispose()
    {
        lock (_entries)
        {
            _file.Dispose();
        }
    }
}

/// <summary>
/// One executed command. <see cref="MessageId"/> tells a redelivery of the same queue message (its result is sent
/// again) from a replay in another message (refused). <see cref="Result"/> is kept for commands that change
/// something; a read-only command is simply run again on redelivery.
/// </summary>
public sealed record JournalEntry(Guid CommandId, string MessageId, string Kind, DateTimeOffset ExecutedAt, DateTimeOffset ExpiresAt, string Status, CommandResult? Result);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JournalEntry))]
sealed partial class JournalJsonContext : JsonSerializerContext;
