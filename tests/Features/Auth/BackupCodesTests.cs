using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Automator67.Functions.Features.Auth.TwoFactor;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.Features.Auth;

/// <summary>Backup-code format and normalization, and the encryption of TOTP secrets at rest.</summary>
public sealed partial class BackupCodesTests
{
    [GeneratedRegex("^([0-9a-hjkmnp-tv-z]{4}-){5}[0-9a-hjkmnp-tv-z]{4}$")]
    private static partial Regex DisplayForm();

    [Fact]
    public void Generate_GivesTenDistinctCodes_InGroupsOfFour_WhoseHashesMatchTheirNormalizedForm()
    {
        var (codes, hashes) = BackupCodes.Generate();

        Assert.Equal(10, codes.Length);
        Assert.Equal(10, codes.Distinct().Count());
        Assert.All(codes, code => Assert.Matches(DisplayForm(), code));
        for (var i = 0; i < codes.Length; i++)
        {
            Assert.Equal(hashes[i], BackupCodes.Hash(BackupCodes.Normalize(codes[i])!));
        }
    }

    [Theory]
    [InlineData("abcd-efgh-jkmn-pqrs-tvwx-yz01", "abcdefghjkmnpqrstvwxyz01")]
    [InlineData("ABCD EFGH JKMN PQRS TVWX YZ01", "abcdefghjkmnpqrstvwxyz01")]
    [InlineData("abcdefghjkmnpqrstvwxyzOI", "abcdefghjkmnpqrstvwxyz01")] // O → 0, I → 1, as Crockford reads them
    [InlineData("abcd-efgh-jkmn-pqrs-tvwx-yz0", null)]
    [InlineData("abcd-efgh-jkmn-pqrs-tvwx-yz0u", null)] // u is not in the alphabet
    [InlineData("abcd-efgh-jkmn-pqrs-tvwx-yz0\u0000", null)]
    [InlineData("' OR 1=1;-- abcdefghjkmnpqrstv", null)]
    [InlineData(null, null)]
    public void Normalize_ReadsWhatPeopleType_AndRefusesTheRest(string? typed, string? expected) =>
        Assert.Equal(expected, BackupCodes.Normalize(typed));

    [Fact]
    public void Secrets_OpenOnlyForTheirOwnAccount_AndShareOneKeyFileMadePrivate()
    {
        var directory = Directory.CreateTempSubdirectory("a67-2fa-key-").FullName;
        try
        {
            var options = Options.Create(new TwoFactorOptions { SecretKeyFile = Path.Combine(directory, "key.json") });
            var environment = new HostingEnvironment { ContentRootPath = directory };
            var first = new TwoFactorSecrets(options, environment);
            var account = Guid.NewGuid();
            var secret = Totp.NewSecret();

            var sealedSecret = first.Seal(account, secret);

            Assert.Equal(1 + 12 + secret.Length + 16, sealedSecret.Length);
            Assert.Equal(secret, new TwoFactorSecrets(options, environment).Open(account, sealedSecret)); // a second process reads the same key
            Assert.ThrowsAny<CryptographicException>(() => first.Open(Guid.NewGuid(), sealedSecret));
            sealedSecret[20] ^= 1;
            Assert.ThrowsAny<CryptographicException>(() => first.Open(account, sealedSecret));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "key.json")));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
