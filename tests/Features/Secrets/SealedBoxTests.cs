using System.Security.Cryptography;
using System.Text;
using Automator67.Contracts.Relay;

namespace Automator67.Tests.Features.Secrets;

/// <summary>Sealing to a node: only that node's sealing key opens a box, for the purpose it was sealed for, unaltered.</summary>
public sealed class SealedBoxTests
{
    static readonly byte[] Secret = Encoding.UTF8.GetBytes("""{"DB_PASSWORD":"hunter2"}""");

    [Fact]
    public void Open_ReturnsThePlaintext_ForTheRecipientNodeAndPurpose()
    {
        using var node = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var nodeId = Guid.NewGuid();

        var box = SealedBox.Seal(node.ExportSubjectPublicKeyInfo(), nodeId, SealedBox.Purposes.Env, Secret);

        Assert.StartsWith(SealedBox.Prefix, box, StringComparison.Ordinal);
        Assert.Equal(SealedBox.SealedLength(Secret.Length), box.Length);
        Assert.DoesNotContain("hunter2", box, StringComparison.Ordinal);
        Assert.Equal(Secret, SealedBox.Open(node, nodeId, SealedBox.Purposes.Env, box));
    }

    [Fact]
    public void Seal_TakesAFreshEphemeralKeyAndNonce_EachTime()
    {
        using var node = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var nodeId = Guid.NewGuid();

        var first = SealedBox.Seal(node.ExportSubjectPublicKeyInfo(), nodeId, SealedBox.Purposes.Env, Secret).Split('.');
        var second = SealedBox.Seal(node.ExportSubjectPublicKeyInfo(), nodeId, SealedBox.Purposes.Env, Secret).Split('.');

        Assert.NotEqual(first[1], second[1]);
        Assert.NotEqual(first[2], second[2]);
        Assert.NotEqual(first[3], second[3]);
    }

    [Fact]
    public void Open_FailsClosed_ForAnotherNodeKeyNodeIdOrPurpose_OrWhenAltered()
    {
        using var node = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var nodeId = Guid.NewGuid();
        var box = SealedBox.Seal(node.ExportSubjectPublicKeyInfo(), nodeId, SealedBox.Purposes.Env, Secret);
        var parts = box.Split('.');
        var ciphertext = System.Buffers.Text.Base64Url.DecodeFromChars(parts[3]);
        ciphertext[0] ^= 1;
        var altered = $"{parts[0]}.{parts[1]}.{parts[2]}.{System.Buffers.Text.Base64Url.EncodeToString(ciphertext)}";

        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(other, nodeId, SealedBox.Purposes.Env, box));
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(node, Guid.NewGuid(), SealedBox.Purposes.Env, box));
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(node, nodeId, SealedBox.Purposes.RegistryCredentials, box));
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(node, nodeId, SealedBox.Purposes.Env, altered));
        Assert.ThrowsAny<CryptographicException>(() => SealedBox.Open(node, nodeId, SealedBox.Purposes.Env, "a67s1.not.a.box"));
    }
}
