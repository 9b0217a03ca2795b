using Automator67.Hosting;

namespace Automator67.Tests.Hosting;

public sealed class LocalSettingsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("a67-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Write(string json)
    {
        var path = Path.Combine(_dir, LocalSettings.FileName);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Read_MapsDoubleUnderscoreToSections_InValues()
    {
        var settings = LocalSettings.Read(Write("""
            {
              "IsEncrypted": false,
              "Values": { "ConnectionStrings__Postgres": "Host=db", "Orchestrations__WorkerCount": 4, "Flag": true, "Empty": null },
              "ConnectionStrings": { "Other": "x" },
              "Host": { "LocalHttpPort": 7171 }
            }
            """));

        Assert.Equal("Host=db", settings["ConnectionStrings:Postgres"]);
        Assert.Equal("4", settings["Orchestrations:WorkerCount"]);
        Assert.Equal("true", settings["Flag"]);
        Assert.Null(settings["Empty"]);
        Assert.Equal("x", settings["ConnectionStrings:Other"]);
        Assert.Equal("7171", settings["ControlPlane:Port"]);
    }

    [Fact]
    public void Read_AcceptsCommentsAndTrailingCommas()
    {
        var settings = LocalSettings.Read(Write("""
            // local overrides
            { "Values": { "A": "1", }, }
            """));

        Assert.Equal("1", settings["A"]);
    }

    [Fact]
    public void Read_NamesLineAndFix_WhenJsonMalformed()
    {
        var path = Write("{\n  \"Values\": {\n    \"A\": \"1\"\n    \"B\": \"2\"\n  }\n}");

        var error = Assert.Throws<StartupException>(() => LocalSettings.Read(path));

        Assert.Contains("is not valid JSON (line 4", error.Message, StringComparison.Ordinal);
        Assert.Contains("local.settings.sample.json", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("""{ "IsEncrypted": true, "Values": {} }""", "\"IsEncrypted\": true")]
    [InlineData("""{ "Values": { "A": { "nested": 1 } } }""", "\"Values.A\" must be a string, number or boolean, not object")]
    [InlineData("""{ "Values": [] }""", "\"Values\" must be an object")]
    [InlineData("""{ "Settings": {} }""", "unknown top-level entry \"Settings\"")]
    [InlineData("""[1, 2]""", "must hold a JSON object")]
    public void Read_NamesTheProblem_WhenShapeIsWrong(string json, string expected)
    {
        var path = Write(json);

        var error = Assert.Throws<StartupException>(() => LocalSettings.Read(path));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ReturnsNoValues_WhenFileAbsent()
    {
        var settings = LocalSettings.Load(_dir);

        Assert.Null(settings.Path);
        Assert.Empty(settings.Values);
    }
}
