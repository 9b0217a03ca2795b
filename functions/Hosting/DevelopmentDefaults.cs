namespace Automator67.Functions.Hosting;

/// <summary>
/// Settings that let a fresh clone start with no configuration at all: they point at the local stack that
/// <c>./a67 up</c> runs. Used only in the Development environment; anywhere else a missing setting stops the start.
/// </summary>
static class DevelopmentDefaults
{
    public const string Postgres = "Host=127.0.0.1;Port=54329;Username=postgres;Password=a67-local;Database=automator67";

    public static readonly IReadOnlyDictionary<string, string?> Values = new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = Postgres,
        ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
    };
}
