using System.ComponentModel.DataAnnotations;

namespace Automator67.Functions.Features.Secrets;

/// <summary>App secrets and registry credentials at rest. Values: <c>Secrets__KeyVaultUri</c>, …</summary>
public sealed class SecretsOptions : IValidatableObject
{
    public const string Section = "Secrets";

    /// <summary>
    /// The Key Vault that holds the key-encryption key (a vault secret whose versions are the rotations), reached with
    /// <c>DefaultAzureCredential</c>. Empty: the key comes from <see cref="KeyFile"/>. Default: empty.
    /// </summary>
    public string? KeyVaultUri { get; set; }

    /// <summary>The vault's URL when one is set.</summary>
    public Uri? Vault => string.IsNullOrWhiteSpace(KeyVaultUri) ? null : new Uri(KeyVaultUri, UriKind.Absolute);

    /// <summary>The name of the Key Vault secret holding the key-encryption key. Default: <c>a67-secrets-kek</c>.</summary>
    [RegularExpression("^[0-9a-zA-Z-]{1,127}$", ErrorMessage = "Setting Secrets__KeyVaultSecretName must be 1-127 letters, digits or '-' (Key Vault's rule).")]
    public string KeyVaultSecretName { get; set; } = "a67-secrets-kek";

    /// <summary>
    /// The local key file of the key-encryption key, when no vault is set (created on first start, mode 0600; every
    /// version is kept, so rotation never makes a secret unreadable). Default: <c>.a67/keys/secrets-kek.json</c>.
    /// </summary>
    [Required(ErrorMessage = "Setting Secrets__KeyFile is required.")]
    public string KeyFile { get; set; } = Path.Combine(".a67", "keys", "secrets-kek.json");

    /// <summary>How long one call to Key Vault may take before it counts as unreachable. Default: 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00", ErrorMessage = "Setting Secrets__KeyVaultTimeout must be between 00:00:01 and 00:05:00.")]
    public TimeSpan KeyVaultTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Secrets rewrapped per transaction after a rotation. Default: 200.</summary>
    [Range(1, 10_000, ErrorMessage = "Setting Secrets__RewrapBatchSize must be between 1 and 10000.")]
    public int RewrapBatchSize { get; set; } = 200;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(KeyVaultUri) && (!Uri.TryCreate(KeyVaultUri, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps))
        {
            yield return new ValidationResult("Setting Secrets__KeyVaultUri must be an https:// URL (https://NAME.vault.azure.net/), or empty for the local key file.");
        }
    }
}
