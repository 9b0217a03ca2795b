using Automator67.Functions.Database;
using Npgsql;

namespace Automator67.Functions.Features.Apps;

/// <summary>One numbered, immutable release of an app; <see cref="Spec"/> has every default written out.</summary>
public sealed record Release(Guid Id, Guid AppId, int Number, ReleaseSpec Spec, DateTimeOffset CreatedAt, Guid CreatedBy);

/// <summary>
/// The releases table. Callers check the app's account first (<see cref="AppStore.FindAsync"/>): orchestrations act for
/// an app, not for a caller, so these methods take the app's id alone.
/// </summary>
public sealed class ReleaseStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;
    const string Columns = "id, app_id, number, spec::text, created_at, created_by";

    /// <summary>
    /// Stores <paramref name="spec"/> (normalized here, whatever the caller passed) as the app's next release, in the
    /// caller's transaction. The app's row is locked first (<c>FOR NO KEY UPDATE</c>: rows that merely reference the app
    /// are not held up), so concurrent creates for one app take numbers one after another and never collide.
    /// Null when the app does not exist (or was deleted meanwhile).
    /// </summary>
    /// <exception cref="ArgumentException">The spec is not valid: validate it with <see cref="ReleaseSpecValidation"/> first.</exception>
    public async Task<Release?> CreateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid appId, ReleaseSpec spec, Guid createdBy, CancellationToken ct)
    {
        if (ReleaseSpecValidation.Validate(spec) is { Count: > 0 } problems)
        {
            throw new ArgumentException($"the release spec is not valid: {string.Join("; ", problems.Select(p => $"{p.Key}: {string.Join(" ", p.Value)}"))}", nameof(spec));
        }

        await using (var lockApp = new NpgsqlCommand("SELECT 1 FROM a67.apps WHERE id = @app FOR NO KEY UPDATE", connection, transaction))
        {
            lockApp.Parameters.AddWithValue("app", appId);
            if (await lockApp.ExecuteScalarAsync(ct) is null)
            {
                return null;
            }
        }

        // A statement of its own after the lock: it sees every release committed before the lock was granted.
        var normalized = spec.Normalize();
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO a67.releases (id, app_id, number, spec, created_at, created_by)
            SELECT @id, @app, coalesce(max(number), 0) + 1, @spec::jsonb, @now, @by FROM a67.releases WHERE app_id = @app
            RETURNING {Columns}
            """, connection, transaction);
        insert.Parameters.AddWithValue("id", Guid.CreateVersion7());
        insert.Parameters.AddWithValue("app", appId);
        insert.Parameters.AddWithValue("spec", ReleaseSpecJson.Serialize(normalized));
        insert.Parameters.AddWithValue("now", time.GetUtcNow());
        insert.Parameters.AddWithValue("by", createdBy);
        return (await insert.ReadAllAsync(Read, ct)).Single();
    }

    /// <summary>The app's releases, newest first: at most <paramref name="limit"/>, numbered below <paramref name="before"/> when given.</summary>
    public async Task<IReadOnlyList<Release>> ListAsync(Guid appId, CancellationToken ct, int limit = DefaultPageSize, int? before = null)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM a67.releases WHERE app_id = @app AND (@before::integer IS NULL OR number < @before)
            ORDER BY number DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("before", (object?)before ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit);
        return await command.ReadAllAsync(Read, ct);
    }

    public async Task<Release?> GetAsync(Guid appId, int number, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await GetAsync(connection, null, appId, number, ct);
    }

    /// <summary>One release, read in the caller's transaction (an orchestration step rolling back to it, say).</summary>
    public async Task<Release?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid appId, int number, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM a67.releases WHERE app_id = @app AND number = @number", connection, transaction);
        command.Parameters.AddWithValue("app", appId);
        command.Parameters.AddWithValue("number", number);
        return (await command.ReadAllAsync(Read, ct)).SingleOrDefault();
    }

    static Release Read(NpgsqlDataReader reader) =>
        new Release(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), ReleaseSpecJson.Deserialize(reader.GetString(3)),
            reader.GetFieldValue<DateTimeOffset>(4), reader.GetGuid(5));
}
