using Npgsql;
using NpgsqlTypes;

namespace Automator67.Functions.Database;

/// <summary>Parameters for values that may be absent.</summary>
public static class DbParameters
{
    /// <summary>The value, or NULL typed as <paramref name="type"/> (an untyped NULL cannot be resolved in every statement).</summary>
    public static NpgsqlParameter Nullable<T>(string name, NpgsqlDbType type, T? value) =>
        new(name, type) { Value = value is null ? DBNull.Value : value };
}
