using System.Text.Json;
using Automator67.Functions.Database;
using Automator67.Functions.Features.Audit;
using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Features.Apps;

public sealed record App(Guid Id, Guid AccountId, string Name, IReadOnlyDictionary<string, string> Labels, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public enum AppDeleteOutcome
{
    Deleted,
    NotFound,
    /// <summary>The app has releases, so replicas of it may run: removing it is an operation's work.</summary>
    HasReleases,
}

/// <summary>The apps table. Every read and change is scoped to one account; each change is audited in its transaction.</summary>
public sealed class AppStore(NpgsqlDataSource dataSource, AuditLog audit, TimeProvider time)
{
    /// <summary>The unique index behind "name taken" (account, lower(name)).</summary>
    public const string NameIndex = "apps_account_name";
    const string Columns = "id, account_id, name, labels::text, created_at, updated_at";

    /// <summary>Creates the app; throws <see cref="PostgresException"/> 23505 (<see cref="NameIndex"/>) when the name is taken.</summary>
    public async Task<App> CreateAsync(Guid accountId, string name, IReadOnlyDictionary<string, string> labels, AuditEvent created, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // Returned as stored: PostgreSQL keeps microseconds, the clock has ticks.
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO a67.apps (id, account_id, name, labels, created_at, updated_at) VALUES (@id, @account, @name, @labels, @now, @now)
            RETURNING {Columns}
            """, connection, transaction);
        insert.Parameters.AddWithValue("id", Guid.CreateVersion7());
        insert.Parameters.AddWithValue("account", accountId);
        insert.Parameters.AddWithValue("name", name);
        insert.Parameters.Add(Jsonb("labels", labels));
        insert.Parameters.AddWithValue("now", time.GetUtcNow());
        var app = (await insert.ReadAllAsync(Read, ct)).Single();
        await audit.WriteAsync(connection, transaction, created with { Detail = Detail(app) }, ct);
        await transaction.CommitAsync(ct);
        return app;
    }

    /// <summary>The account's apps by name; with <paramref name="labelKey"/>, only those carrying it (with <paramref name="labelValue"/>, that value).</summary>
    public async Task<IReadOnlyList<App>> ListAsync(Guid accountId, string? labelKey, string? labelValue, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM a67.apps
            WHERE account_id = @account
              AND (@key::text IS NULL OR (labels ? @key AND (@value::text IS NULL OR labels ->> @key = @value)))
            ORDER BY name
            """);
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.Add(new NpgsqlParameter("key", NpgsqlDbType.Text) { Value = (object?)labelKey ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("value", NpgsqlDbType.Text) { Value = (object?)labelValue ?? DBNull.Value });
        return await command.ReadAllAsync(Read, ct);
    }

    public async Task<App?> FindAsync(Guid accountId, Guid id, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM a67.apps WHERE account_id = @account AND id = @id");
        command.Parameters.AddWithValue("account", accountId);
        command.Parameters.AddWithValue("id", id);
        return (await command.ReadAllAsync(Read, ct)).SingleOrDefault();
    }

    /// <summary>Renames and/or relabels; null when there is no such app; throws <see cref="PostgresException"/> 23505 on a taken name.</summary>
    public async Task<App?> UpdateAsync(Guid accountId, Guid id, string? name, IReadOnlyDictionary<string, string>? labels, AuditEvent updated, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var update = new NpgsqlCommand($"""
            UPDATE a67.apps SET name = coalesce(@name, name), labels = coalesce(@labels, labels)
            WHERE account_id = @account AND id = @id RETURNING {Columns}
            """, connection, transaction);
        update.Parameters.AddWithValue("account", accountId);
        update.Parameters.AddWithValue("id", id);
        update.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = (object?)name ?? DBNull.Value });
        update.Parameters.Add(labels is null ? new NpgsqlParameter("labels", NpgsqlDbType.Jsonb) { Value = DBNull.Value } : Jsonb("labels", labels));
        if ((await update.ReadAllAsync(Read, ct)).SingleOrDefault() is not { } app)
        {
            return null;
        }

        var detail = new Dictionary<string, object?>(Detail(app)) { ["changed"] = new[] { name is null ? null : "name", labels is null ? null : "labels" }.OfType<string>().ToArray() };
        await audit.WriteAsync(connection, transaction, updated with { Detail = detail }, ct);
        await transaction.CommitAsync(ct);
        return app;
    }

    /// <summary>Deletes an app that has no releases. The app's row is locked first, so a release created meanwhile is seen.</summary>
    public async Task<AppDeleteOutcome> DeleteAsync(Guid accountId, Guid id, AuditEvent deleted, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        // Lock, then look: in a second statement the check sees a release committed while we waited for the lock.
        await using var lockApp = new NpgsqlCommand("SELECT name FROM a67.apps WHERE account_id = @account AND id = @id FOR UPDATE", connection, transaction);
        lockApp.Parameters.AddWithValue("account", accountId);
        lockApp.Parameters.AddWithValue("id", id);
        if (await lockApp.ExecuteScalarAsync(ct) is not string name)
        {
            return AppDeleteOutcome.NotFound;
        }

        await using var releases = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM a67.releases WHERE app_id = @id)", connection, transaction);
        releases.Parameters.AddWithValue("id", id);
        if ((bool)(await releases.ExecuteScalarAsync(ct))!)
        {
            return AppDeleteOutcome.HasReleases;
        }

        await using var delete = new NpgsqlCommand("DELETE FROM a67.apps WHERE id = @id", connection, transaction);
        delete.Parameters.AddWithValue("id", id);
        await delete.ExecuteNonQueryAsync(ct);
        await audit.WriteAsync(connection, transaction, deleted with { Detail = new Dictionary<string, object?> { ["appId"] = id, ["name"] = name } }, ct);
        await transaction.CommitAsync(ct);
        return AppDeleteOutcome.Deleted;
    }

    static Dictionary<string, object?> Detail(App app) => new() { ["appId"] = app.Id, ["name"] = app.Name };

    static App Read(NpgsqlDataReader reader) =>
        new App(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2),
            JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(3))!,
            reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5));

    static NpgsqlParameter Jsonb<T>(string name, T value) => new(name, NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(value, JsonSerializerOptions.Web) };
}
