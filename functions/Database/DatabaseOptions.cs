using System.ComponentModel.DataAnnotations;
using Npgsql;

namespace Automator67.Functions.Database;

/// <summary>The control-plane database. Value: <c>ConnectionStrings__Postgres</c>.</summary>
public sealed class DatabaseOptions : IValidatableObject
{
    public const string Section = "ConnectionStrings";

    /// <summary>Npgsql connection string. Default: none outside Development (the local stack's cluster in Development).</summary>
    [Required(ErrorMessage = "Missing setting ConnectionStrings__Postgres (the PostgreSQL connection string): set it in local.settings.json Values or as an environment variable.")]
    public string Postgres { get; set; } = "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        string? problem = null;
        try
        {
            _ = new NpgsqlConnectionStringBuilder(Postgres);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            problem = ex.Message.TrimEnd('.');
        }

        if (problem is not null)
        {
            yield return new ValidationResult($"Setting ConnectionStrings__Postgres is not a valid Npgsql connection string ({problem}).", [nameof(Postgres)]);
        }
    }
}
