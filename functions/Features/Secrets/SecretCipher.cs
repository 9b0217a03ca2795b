using System.Security.Cryptography;
using System.Text;

namespace Automator67.Functions.Features.Secrets;

/// <summary>
/// Who a secret is, as its ciphertexts are bound to it: the account, its owner (an app or a registry credential), its
/// row id, name and version. A ciphertext copied onto another row, another name or another version does not open.
/// </summary>
public sealed record SecretIdentity(Guid Id, Guid AccountId, string OwnerKind, Guid OwnerId, string Name, int Version)
{
    public const string App = "app";
    public const string Registry = "registry";

    public byte[] AssociatedData() => Encoding.UTF8.GetBytes($"a67-secret/v1\n{AccountId:D}\n{OwnerKind}:{OwnerId:D}\n{Id:D}\n{Name}\n{Version}");

    /// <summary>The wrapped data key is bound to the secret and to the KEK version that wrapped it.</summary>
    public byte[] WrapAssociatedData(string kekId) => Encoding.UTF8.GetBytes($"a67-secret-key/v1\n{AccountId:D}\n{OwnerKind}:{OwnerId:D}\n{Id:D}\n{Name}\n{Version}\n{kekId}");
}

/// <summary>A secret as stored: the KEK version, the wrapped data key and the encrypted value.</summary>
public sealed record EncryptedSecret(string KekId, byte[] WrappedKey, byte[] Ciphertext);

/// <summary>
/// Envelope encryption with AES-256-GCM: a fresh 256-bit data key per secret version encrypts the value; the KEK
/// wraps the data key. Every encryption takes a fresh random 96-bit nonce (a data key encrypts one value once; a KEK
/// wraps at most a few billion keys before it is rotated, far below the 2³² random-nonce bound). Stored forms are
/// nonce (12) ‖ ciphertext ‖ tag (16). Decryption fails closed: a <see cref="CryptographicException"/>, never a guess.
/// </summary>
public static class SecretCipher
{
    const int KeySize = 32;
    const int NonceSize = 12;
    const int TagSize = 16;

    public static EncryptedSecret Encrypt(SecretIdentity identity, ActiveKek kek, ReadOnlySpan<byte> value)
    {
        var dataKey = RandomNumberGenerator.GetBytes(KeySize);
        try
        {
            return new EncryptedSecret(kek.Id, Seal(kek.Key, dataKey, identity.WrapAssociatedData(kek.Id)), Seal(dataKey, value, identity.AssociatedData()));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>The value; throws <see cref="CryptographicException"/> when the row was altered or moved, or the KEK is not the one that wrapped it.</summary>
    public static byte[] Decrypt(SecretIdentity identity, EncryptedSecret secret, byte[] kek)
    {
        var dataKey = Open(kek, secret.WrappedKey, identity.WrapAssociatedData(secret.KekId));
        try
        {
            return dataKey.Length == KeySize ? Open(dataKey, secret.Ciphertext, identity.AssociatedData()) : throw new CryptographicException("the data key has the wrong size");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>The data key unwrapped with the old KEK and wrapped with <paramref name="to"/>; the value's ciphertext does not change.</summary>
    public static EncryptedSecret Rewrap(SecretIdentity identity, EncryptedSecret secret, byte[] fromKek, ActiveKek to)
    {
        var dataKey = Open(fromKek, secret.WrappedKey, identity.WrapAssociatedData(secret.KekId));
        try
        {
            return secret with { KekId = to.Id, WrappedKey = Seal(to.Key, dataKey, identity.WrapAssociatedData(to.Id)) };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    static byte[] Seal(byte[] key, ReadOnlySpan<byte> plaintext, byte[] aad)
    {
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        RandomNumberGenerator.Fill(output.AsSpan(0, NonceSize));
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(output.AsSpan(0, NonceSize), plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(^TagSize), aad);
        return output;
    }

    static byte[] Open(byte[] key, byte[] sealedBytes, byte[] aad)
    {
        if (sealedBytes.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("the stored ciphertext is too short");
        }

        var plaintext = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, plaintext.Length), sealedBytes.AsSpan(^TagSize), plaintext, aad);
        return plaintext;
    }
}
