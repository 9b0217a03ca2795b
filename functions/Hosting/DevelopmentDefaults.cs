using Automator67.Functions.Queues;

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
        [QueueOptions.ConnectionSetting] = "UseDevelopmentStorage=true",
    };

    /// <summary>
    /// The defaults, less Azurite's connection string when the queues are configured with an identity
    /// (<c>AzureWebJobsStorage__queueServiceUri</c>) in <paramref name="configured"/>: a default must not conflict with a chosen setting.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> For(IConfiguration configured) =>
        string.IsNullOrWhiteSpace(configured[QueueConnection.ServiceUriSetting.Replace("__", ":", StringComparison.Ordinal)])
            ? Values
            : Values.Where(setting => setting.Key != QueueOptions.ConnectionSetting).ToDictionary();
}
