using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace Automator67.Bench;

/// <summary>
/// The product's key rings (SigningKeyRing, CommandSigningKeys) resolve their key file against a content root; in
/// the bench that root is the run's key folder, so the bench's rings use the same files as its control plane.
/// </summary>
public sealed class KeyFolderEnvironment(string root) : IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Production";

    public string ApplicationName { get; set; } = "Automator67.Bench";

    public string ContentRootPath { get; set; } = root;

    public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
}
