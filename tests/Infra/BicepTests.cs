using System.Text.Json;
using System.Text.RegularExpressions;
using Automator67.Hosting;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Infra;

/// <summary>
/// infra/bicep builds and lints without a single warning (with the rules bicepconfig.json turns on), both parameter
/// files build, and the ARM JSON has what the deployment promises: no shared keys, RBAC-only Key Vault, a private
/// PostgreSQL that requires TLS, probes on /healthz and /readyz, the settings the product reads, the API URL.
/// </summary>
public sealed partial class BicepTests(BicepBuildFixture built) : IClassFixture<BicepBuildFixture>
{
    static readonly TimeSpan BicepCap = TimeSpan.FromMinutes(2);

    // Built-in role ids, the same in every tenant.
    const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    const string StorageQueueDelegator = "7ee386e9-84f0-448e-80a6-f185f6533131";
    const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

    /// <summary>Settings the templates give the app that the product does not read yet (docs/azure.md, "Not yet supported").</summary>
    static readonly string[] NotYetRead =
    [
        "Secrets__KeyVaultUri", "AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING",
    ];

    /// <summary>What the parameter files read from the environment (the password never lives in a file).</summary>
    static readonly Dictionary<string, string> ParameterEnvironment = new()
    {
        ["A67_POSTGRES_ADMIN_PASSWORD"] = "test-only-password-0123",
        ["A67_IMAGE"] = "a67test.azurecr.io/automator67/functions:1.0.0",
        ["A67_REGISTRY"] = "a67test",
    };

    JsonElement Main => built.Json("main.bicep");

    [Fact]
    public void Build_WritesEveryTemplate_WithoutWarnings()
    {
        Assert.True(built.Build.ExitCode == 0 && built.Build.Diagnostics.Count == 0, $"bicep build took {built.Elapsed.TotalSeconds:F1} s\n{built.Build}");
        Assert.Contains("main.bicep", BicepBuildFixture.Templates);
        foreach (var template in BicepBuildFixture.Templates)
        {
            Assert.EndsWith("deploymentTemplate.json#", ArmTemplate.At(built.Json(template), "$schema"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Lint_ReportsNothing_ForAnyTemplate()
    {
        var lint = await BicepCli.RunAsync(["lint", "--pattern", "**/*.bicep"], null, TestEnvironment.TimeCap(BicepCap));

        Assert.True(lint.ExitCode == 0 && lint.Diagnostics.Count == 0, lint.ToString());
    }

    // build-params reports the linter's warnings on the parameter file too (on stderr), so no separate lint is needed.
    [Theory]
    [InlineData("dev")]
    [InlineData("prod")]
    public async Task BuildParams_Succeeds_ForEachEnvironment(string environment)
    {
        var build = await BicepCli.RunAsync(["build-params", $"{environment}.bicepparam", "--stdout"], ParameterEnvironment, TestEnvironment.TimeCap(BicepCap));

        Assert.True(build.ExitCode == 0 && build.Diagnostics.Count == 0, build.ToString());
        using var output = JsonDocument.Parse(build.Stdout);
        using var parametersJson = JsonDocument.Parse(output.RootElement.GetProperty("parametersJson").GetString()!);
        var parameters = parametersJson.RootElement.GetProperty("parameters");
        string? Value(string name) => ArmTemplate.At(parameters, $"{name}.value");

        Assert.Equal(ParameterEnvironment["A67_POSTGRES_ADMIN_PASSWORD"], Value("postgresAdminPassword"));
        Assert.Equal(ParameterEnvironment["A67_IMAGE"], Value("image"));
        Assert.Equal(ParameterEnvironment["A67_REGISTRY"], Value("registryName"));
        Assert.True(int.Parse(Value("minReplicas")!) >= 1, "the control plane runs the job server and the events consumer: never scale it to zero");
        Assert.True(int.Parse(Value("maxReplicas")!) >= int.Parse(Value("minReplicas")!));
        if (environment == "prod")
        {
            Assert.Equal("true", ArmTemplate.At(parameters, "postgres.value.zoneRedundantHa"));
            Assert.Equal("35", ArmTemplate.At(parameters, "postgres.value.backupRetentionDays"));
            Assert.Equal("true", Value("keyVaultPurgeProtection"));
            Assert.Equal("true", Value("zoneRedundant"));
        }
    }

    [Fact]
    public async Task BuildParams_Fails_WithoutThePasswordInTheEnvironment()
    {
        var environment = new Dictionary<string, string>(ParameterEnvironment);
        environment.Remove("A67_POSTGRES_ADMIN_PASSWORD");

        var build = await BicepCli.RunAsync(["build-params", "dev.bicepparam", "--stdout"], environment, TestEnvironment.TimeCap(BicepCap));

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("A67_POSTGRES_ADMIN_PASSWORD", build.Stderr);
    }

    [Fact]
    public void Storage_RefusesSharedKeys_AndGivesTheIdentityQueueRoles()
    {
        var account = ArmTemplate.One(Main, "Microsoft.Storage/storageAccounts").Properties;

        Assert.Equal("false", ArmTemplate.At(account, "allowSharedKeyAccess"));
        Assert.Equal("true", ArmTemplate.At(account, "defaultToOAuthAuthentication"));
        Assert.Equal("false", ArmTemplate.At(account, "allowBlobPublicAccess"));
        Assert.Equal("TLS1_2", ArmTemplate.At(account, "minimumTlsVersion"));
        Assert.Equal("true", ArmTemplate.At(account, "supportsHttpsTrafficOnly"));
        Assert.Contains(StorageQueueDataContributor, RoleIds("Microsoft.Storage/storageAccounts"));
        Assert.Contains(StorageQueueDelegator, RoleIds("Microsoft.Storage/storageAccounts"));
    }

    [Fact]
    public void KeyVault_UsesRbac_AndLetsTheIdentityReadSecretsOnly()
    {
        var vault = ArmTemplate.One(Main, "Microsoft.KeyVault/vaults").Properties;

        Assert.Equal("true", ArmTemplate.At(vault, "enableRbacAuthorization"));
        Assert.Null(ArmTemplate.At(vault, "accessPolicies"));
        Assert.Equal([KeyVaultSecretsUser], RoleIds("Microsoft.KeyVault/vaults"));
    }

    [Fact]
    public void Registry_LetsTheIdentityPullOnly()
    {
        Assert.Equal([AcrPull], RoleIds("Microsoft.ContainerRegistry/registries"));
    }

    [Fact]
    public void Postgres_IsPrivate_AndRequiresTls()
    {
        var server = ArmTemplate.One(Main, "Microsoft.DBforPostgreSQL/flexibleServers").Properties;
        var settings = ArmTemplate.OfType(Main, "Microsoft.DBforPostgreSQL/flexibleServers/configurations")
            .ToDictionary(c => LastNameSegment(c.Body), c => ArmTemplate.At(c.Properties, "value"));

        Assert.Equal("Disabled", ArmTemplate.At(server, "network.publicNetworkAccess"));
        Assert.NotNull(ArmTemplate.At(server, "network.delegatedSubnetResourceId"));
        Assert.NotNull(ArmTemplate.At(server, "network.privateDnsZoneArmResourceId"));
        Assert.Equal("ON", settings["require_secure_transport"]);
        Assert.Equal("TLSv1.2", settings["ssl_min_protocol_version"]);
        Assert.Empty(ArmTemplate.OfType(Main, "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules"));
        var zone = ArmTemplate.One(Main, "Microsoft.Network/privateDnsZones");
        Assert.Single(ArmTemplate.OfType(Main, "Microsoft.Network/privateDnsZones/virtualNetworkLinks"));
        Assert.Equal("global", ArmTemplate.At(zone.Body, "location"));
    }

    [Fact]
    public void ContainerApps_SharesTheNetwork_OfTheDatabase()
    {
        var environment = ArmTemplate.One(Main, "Microsoft.App/managedEnvironments").Properties;
        var vnet = ArmTemplate.One(Main, "Microsoft.Network/virtualNetworks").Properties;
        var delegations = vnet.GetProperty("subnets").EnumerateArray()
            .Select(s => ArmTemplate.At(s, "properties.delegations")!)
            .ToList();

        Assert.NotNull(ArmTemplate.At(environment, "vnetConfiguration.infrastructureSubnetId"));
        Assert.Equal("false", ArmTemplate.At(environment, "vnetConfiguration.internal"));
        Assert.Contains(delegations, d => d.Contains("Microsoft.App/environments", StringComparison.Ordinal));
        Assert.Contains(delegations, d => d.Contains("Microsoft.DBforPostgreSQL/flexibleServers", StringComparison.Ordinal));
        Assert.Equal("log-analytics", ArmTemplate.At(environment, "appLogsConfiguration.destination"));
        Assert.Single(ArmTemplate.OfType(Main, "Microsoft.OperationalInsights/workspaces"));
        Assert.Single(ArmTemplate.OfType(Main, "Microsoft.Insights/components"));
    }

    [Fact]
    public void ControlPlane_ProbesHealthzAndReadyz_OnThePortItListensOn()
    {
        var app = ArmTemplate.One(Main, "Microsoft.App/containerApps");
        var container = app.Properties.GetProperty("template").GetProperty("containers")[0];
        var probes = container.GetProperty("probes").EnumerateArray().ToDictionary(p => p.GetProperty("type").GetString()!);
        var port = app.Variable("port").GetInt32();

        Assert.Equal("/healthz", ArmTemplate.At(probes["Liveness"], "httpGet.path"));
        Assert.Equal("/readyz", ArmTemplate.At(probes["Readiness"], "httpGet.path"));
        Assert.Equal("/healthz", ArmTemplate.At(probes["Startup"], "httpGet.path"));
        Assert.All(probes.Values, p => Assert.Equal("[variables('port')]", ArmTemplate.At(p, "httpGet.port")));
        Assert.Equal(7071, port);
        Assert.Equal("[variables('port')]", ArmTemplate.At(app.Properties, "configuration.ingress.targetPort"));
        Assert.Equal("false", ArmTemplate.At(app.Properties, "configuration.ingress.allowInsecure"));
        Assert.Equal("[parameters('image')]", ArmTemplate.At(container, "image"));
        Assert.Equal("[parameters('minReplicas')]", ArmTemplate.At(app.Properties, "template.scale.minReplicas"));
        Assert.Equal("[parameters('maxReplicas')]", ArmTemplate.At(app.Properties, "template.scale.maxReplicas"));
    }

    [Fact]
    public void ControlPlane_GetsTheSettingsTheProductReads()
    {
        var app = ArmTemplate.One(Main, "Microsoft.App/containerApps");
        var settings = app.Variable("baseSettings").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        var secretEnv = app.Variable("secretEnv").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("secretRef").GetString());
        var secrets = app.Variable("appSecrets").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        var sample = LocalSettings.Read(Path.Combine(TestEnvironment.RepositoryRoot, "local.settings.sample.json"));

        Assert.Equal("0.0.0.0", settings["ControlPlane__BindAddress"]);
        Assert.Equal("Production", settings["ASPNETCORE_ENVIRONMENT"]);
        Assert.Equal("[parameters('keyVaultUri')]", settings["Secrets__KeyVaultUri"]);
        // The connection string reaches the app as a Key Vault reference, read with the app's identity.
        var postgres = secrets[secretEnv["ConnectionStrings__Postgres"]!];
        Assert.Equal("[parameters('postgresSecretUri')]", ArmTemplate.At(postgres, "keyVaultUrl"));
        Assert.Equal("[parameters('identityId')]", ArmTemplate.At(postgres, "identity"));
        Assert.Null(ArmTemplate.At(postgres, "value"));
        // Every other name is one the product reads (the sample names them all), or one docs/azure.md lists as not yet read.
        foreach (var name in settings.Keys.Concat(secretEnv.Keys).Except(NotYetRead).Except(["ASPNETCORE_ENVIRONMENT"]))
        {
            Assert.True(sample.ContainsKey(name.Replace("__", ":", StringComparison.Ordinal)), $"the control plane reads no setting {name} (local.settings.sample.json lacks it)");
        }
    }

    [Fact]
    public void Main_OutputsTheApiUrl()
    {
        var outputs = Main.GetProperty("outputs");

        Assert.Equal("string", ArmTemplate.At(outputs, "apiUrl.type"));
        Assert.Contains("controlPlane", ArmTemplate.At(outputs, "apiUrl.value"), StringComparison.Ordinal);
        var module = built.Json("modules/control-plane.bicep").GetProperty("outputs");
        Assert.Equal("[format('https://{0}', reference('app').configuration.ingress.fqdn)]", ArmTemplate.At(module, "url.value"));
    }

    [Fact]
    public void Templates_WriteNoSecretToAnOutput()
    {
        foreach (var template in BicepBuildFixture.Templates)
        {
            var outputs = built.Json(template).TryGetProperty("outputs", out var o) ? o.GetRawText() : "";
            Assert.DoesNotContain("Password", outputs, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("listKeys", outputs, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>The role definition ids assigned on resources of <paramref name="scopeType"/>, variables resolved.</summary>
    IReadOnlyList<string> RoleIds(string scopeType) =>
    [
        .. ArmTemplate.OfType(Main, "Microsoft.Authorization/roleAssignments")
            .Where(r => ArmTemplate.At(r.Body, "scope")?.Contains($"'{scopeType}'", StringComparison.Ordinal) == true)
            .Select(r =>
            {
                var id = ArmTemplate.At(r.Properties, "roleDefinitionId")!;
                return VariableReference().Match(id) is { Success: true } variable ? r.Variable(variable.Groups[1].Value).GetString()! : id;
            })
            .Order(StringComparer.Ordinal),
    ];

    static string LastNameSegment(JsonElement resource) =>
        NameSegment().Matches(ArmTemplate.At(resource, "name")!).Last().Groups[1].Value;

    [GeneratedRegex(@"variables\('(\w+)'\)")]
    private static partial Regex VariableReference();

    // The last quoted literal of format('{0}/{1}', parameters('serverName'), 'require_secure_transport').
    [GeneratedRegex(@"'([A-Za-z_]+)'")]
    private static partial Regex NameSegment();
}
