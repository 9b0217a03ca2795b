using System.Security.Cryptography;
using System.Text;
using Automator67.Functions.Features.Secrets;

namespace Automator67.Tests.Features.Secrets;

/// <summary>The envelope encryption of secrets at rest: it opens only for the secret it was made for, under the KEK that wrapped it.</summary>
public sealed class SecretCipherTests
{
    static readonly ActiveKek Kek = new("file:ab12cd34.1", RandomNumberGenerator.GetBytes(32));
    static readonly SecretIdentity Identity = new(Guid.NewGuid(), Guid.NewGuid(), SecretIdentity.App, Guid.NewGuid(), "DB_PASSWORD", 3);
    static readonly byte[] Value = Encoding.UTF8.GetBytes("s3cr3t-value-ä");

    [Fact]
    public void Decrypt_ReturnsTheValue_ForTheSameIdentityAndKek()
    {
        var encrypted = SecretCipher.Encrypt(Identity, Kek, Value);

        Assert.Equal(Value, SecretCipher.Decrypt(Identity, encrypted, Kek.Key));
        Assert.Equal("file:ab12cd34.1", encrypted.KekId);
        Assert.Equal(12 + 32 + 16, encrypted.WrappedKey.Length);
        Assert.Equal(12 + Value.Length + 16, encrypted.Ciphertext.Length);
        Assert.DoesNotContain(Convert.ToHexString(Value), Convert.ToHexString(encrypted.Ciphertext), StringComparison.Ordinal);
    }

    [Fact]
    public void Encrypt_UsesAFreshDataKeyAndNonces_EachTime()
    {
        var first = SecretCipher.Encrypt(Identity, Kek, Value);
        var second = SecretCipher.Encrypt(Identity, Kek, Value);

        Assert.NotEqual(first.Ciphertext, second.Ciphertext);
        Assert.NotEqual(first.WrappedKey, second.WrappedKey);
        Assert.NotEqual(first.Ciphertext[..12], second.Ciphertext[..12]);
        Assert.NotEqual(first.WrappedKey[..12], second.WrappedKey[..12]);
    }

    public static TheoryData<string> Tampered => ["ciphertext", "tag", "nonce", "wrapped key", "wrapped tag", "kek id"];

    [Theory]
    [MemberData(nameof(Tampered))]
    public void Decrypt_FailsClosed_WhenAnyByteIsAltered(string part)
    {
        var encrypted = SecretCipher.Encrypt(Identity, Kek, Value);
        var ciphertext = (byte[])encrypted.Ciphertext.Clone();
        var wrapped = (byte[])encrypted.WrappedKey.Clone();
        var kekId = encrypted.KekId;
        switch (part)
        {
            case "ciphertext": ciphertext[13] ^= 1; break;
            case "tag": ciphertext[^1] ^= 0x80; break;
            case "nonce": ciphertext[0] ^= 1; break;
            case "wrapped key": wrapped[20] ^= 1; break;
            case "wrapped tag": wrapped[^1] ^= 1; break;
            default: kekId = "file:ab12cd34.2"; break;
        }

        Assert.ThrowsAny<CryptographicException>(() => SecretCipher.Decrypt(Identity, new EncryptedSecret(kekId, wrapped, ciphertext), Kek.Key));
    }

    public static TheoryData<string> Moves => ["id", "account", "owner", "owner kind", "name", "version"];

    [Theory]
    [MemberData(nameof(Moves))]
    public void Decrypt_FailsClosed_WhenTheCiphertextIsMovedToAnotherSecret(string change)
    {
        var encrypted = SecretCipher.Encrypt(Identity, Kek, Value);
        var other = change switch
        {
            "id" => Identity with { Id = Guid.NewGuid() },
            "account" => Identity with { AccountId = Guid.NewGuid() },
            "owner" => Identity with { OwnerId = Guid.NewGuid() },
            "owner kind" => Identity with { OwnerKind = SecretIdentity.Registry },
            "name" => Identity with { Name = "API_KEY" },
            _ => Identity with { Version = 4 },
        };

        Assert.ThrowsAny<CryptographicException>(() => SecretCipher.Decrypt(other, encrypted, Kek.Key));
    }

    [Fact]
    public void Decrypt_FailsClosed_UnderAnotherKek()
    {
        var encrypted = SecretCipher.Encrypt(Identity, Kek, Value);

        Assert.ThrowsAny<CryptographicException>(() => SecretCipher.Decrypt(Identity, encrypted, RandomNumberGenerator.GetBytes(32)));
    }

    [Fact]
    public void Rewrap_MovesTheDataKeyToTheNewKek_AndLeavesTheValueCiphertextAlone()
    {
        var encrypted = SecretCipher.Encrypt(Identity, Kek, Value);
        var next = new ActiveKek("file:ab12cd34.2", RandomNumberGenerator.GetBytes(32));

        var moved = SecretCipher.Rewrap(Identity, encrypted, Kek.Key, next);

        Assert.Equal("file:ab12cd34.2", moved.KekId);
        Assert.Equal(encrypted.Ciphertext, moved.Ciphertext);
        Assert.Equal(Value, SecretCipher.Decrypt(Identity, moved, next.Key));
        Assert.ThrowsAny<CryptographicException>(() => SecretCipher.Decrypt(Identity, moved, Kek.Key));
    }
}
