using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Automator67.Contracts.Relay;

/// <summary>
/// Seals a secret to one node: ECDH P-256 between a fresh ephemeral key (one per sealed box) and the node's sealing
/// key, HKDF-SHA256 over the shared secret (salt: both public points) to an AES-256-GCM key, and the node id and the
/// box's purpose as associated data, so a box sealed for one node or one purpose does not open for another.
/// Text form: <c>a67s1.</c> ephemeral point (65 bytes, uncompressed) <c>.</c> nonce (12) <c>.</c> ciphertext ‖ tag
/// (16), each base64url. Only the node's private key opens it; the signature of the command around it says who sent it.
/// </summary>
public static class SealedBox
{
    public const string Prefix = "a67s1.";
    const int PointSize = 65;
    const int NonceSize = 12;
    const int TagSize = 16;
    static readonly byte[] Info = "automator67 sealed box v1"u8.ToArray();

    /// <summary>What a box carries: the environment of a replica, or the credentials of a pull.</summary>
    public static class Purposes
    {
        public const string Env = "env";
        public const string RegistryCredentials = "registry-credentials";
    }

    /// <summary>Seals <paramref name="plaintext"/> to the node whose sealing key (SubjectPublicKeyInfo) is <paramref name="recipientPublicKey"/>.</summary>
    public static string Seal(ReadOnlySpan<byte> recipientPublicKey, Guid nodeId, string purpose, ReadOnlySpan<byte> plaintext)
    {
        using var recipient = ECDiffieHellman.Create();
        recipient.ImportSubjectPublicKeyInfo(recipientPublicKey, out _);
        if (recipient.KeySize != 256)
        {
            throw new CryptographicException("a sealing key must be an EC P-256 key");
        }

        using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var ephemeralPoint = Point(ephemeral.ExportParameters(false).Q);
        var key = DeriveKey(ephemeral, recipient, ephemeralPoint, Point(recipient.ExportParameters(false).Q));
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        var sealedBytes = new byte[plaintext.Length + TagSize];
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(0, plaintext.Length), sealedBytes.AsSpan(plaintext.Length), Aad(nodeId, purpose));
        }

        CryptographicOperations.ZeroMemory(key);
        return $"{Prefix}{Base64Url.EncodeToString(ephemeralPoint)}.{Base64Url.EncodeToString(nonce)}.{Base64Url.EncodeToString(sealedBytes)}";
    }

    /// <summary>Opens a box with the node's sealing key; throws <see cref="CryptographicException"/> when it is malformed, altered, or not for this node and purpose.</summary>
    public static byte[] Open(ECDiffieHellman sealingKey, Guid nodeId, string purpose, string box)
    {
        var parts = box.StartsWith(Prefix, StringComparison.Ordinal) ? box[Prefix.Length..].Split('.') : [];
        if (parts.Length != 3)
        {
            throw new CryptographicException("a sealed value must have the form a67s1.point.nonce.ciphertext");
        }

        byte[] point, nonce, sealedBytes;
        try
        {
            (point, nonce, sealedBytes) = (Base64Url.DecodeFromChars(parts[0]), Base64Url.DecodeFromChars(parts[1]), Base64Url.DecodeFromChars(parts[2]));
        }
        catch (FormatException)
        {
            throw new CryptographicException("a sealed value is not base64url");
        }

        if (point.Length != PointSize || point[0] != 4 || nonce.Length != NonceSize || sealedBytes.Length < TagSize)
        {
            throw new CryptographicException("a sealed value has parts of the wrong size");
        }

        using var ephemeral = ECDiffieHellman.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = point[1..33], Y = point[33..] },
        });
        var key = DeriveKey(sealingKey, ephemeral, point, Point(sealingKey.ExportParameters(false).Q));
        var plaintext = new byte[sealedBytes.Length - TagSize];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(nonce, sealedBytes.AsSpan(0, plaintext.Length), sealedBytes.AsSpan(plaintext.Length), plaintext, Aad(nodeId, purpose));
            return plaintext;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>The length of the text form of a box holding <paramref name="plaintextBytes"/> bytes (to check a command fits a queue message).</summary>
    public static int SealedLength(int plaintextBytes) =>
        Prefix.Length + Base64Url.GetEncodedLength(PointSize) + 1 + Base64Url.GetEncodedLength(NonceSize) + 1 + Base64Url.GetEncodedLength(plaintextBytes + TagSize);

    static byte[] DeriveKey(ECDiffieHellman own, ECDiffieHellman other, byte[] ephemeralPoint, byte[] recipientPoint)
    {
        using var otherPublic = other.PublicKey;
        var shared = own.DeriveRawSecretAgreement(otherPublic);
        try
        {
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, 32, [.. ephemeralPoint, .. recipientPoint], Info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    static byte[] Point(ECPoint q) => [4, .. q.X!, .. q.Y!];

    static byte[] Aad(Guid nodeId, string purpose) => Encoding.UTF8.GetBytes($"a67-sealed-box\n{nodeId:D}\n{purpose}");
}
