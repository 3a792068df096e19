using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// <c>Auth:SessionSecret</c>: the secret, kept outside the database, that dashboard sessions rest on. Two keys are
/// derived from it (HKDF-SHA256): one seals the API key's hash inside each session cookie (<see cref="DashboardSessions"/>),
/// one encrypts the data-protection key ring at rest (<see cref="SessionSecretXmlEncryptor"/>). So read access to the
/// database (api_keys, dashboard_keys) is not enough to forge a session. There is no default: without it the
/// dashboard's sign-in is off (API keys still work); a secret shorter than <see cref="MinLength"/> stops start-up.
/// </summary>
public sealed class SessionSecret
{
    public const string Setting = "Auth:SessionSecret";

    public const int MinLength = 32;

    private SessionSecret(string secret)
    {
        var ikm = Encoding.UTF8.GetBytes(secret);
        SealKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 32, salt: [], info: Encoding.ASCII.GetBytes("InvexQR session cookie seal v1"));
        RingKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 32, salt: [], info: Encoding.ASCII.GetBytes("InvexQR key ring encryption v1"));
    }

    /// <summary>AES-256-GCM key for the key hash inside session cookies.</summary>
    public byte[] SealKey { get; }

    /// <summary>AES-256-GCM key for the data-protection key ring.</summary>
    public byte[] RingKey { get; }

    /// <summary>The configured secret; null when there is none. Throws when it is too short to be one.</summary>
    public static SessionSecret? From(IConfiguration configuration)
    {
        var secret = configuration[Setting];
        if (string.IsNullOrEmpty(secret))
        {
            return null;
        }

        if (secret.Trim().Length < MinLength)
        {
            throw new InvalidOperationException(
                $"{Setting} must be at least {MinLength} characters of random data (e.g. openssl rand -hex 32); it protects dashboard sessions.");
        }

        return new SessionSecret(secret.Trim());
    }

    /// <summary>AES-256-GCM: nonce (12) | ciphertext | tag (16).</summary>
    public static byte[] Seal(byte[] key, byte[] plaintext, byte[] associatedData)
    {
        var output = new byte[12 + plaintext.Length + 16];
        var nonce = output.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(nonce, plaintext, output.AsSpan(12, plaintext.Length), output.AsSpan(12 + plaintext.Length), associatedData);
        return output;
    }

    /// <summary>The plaintext of <see cref="Seal"/>'s output, or null when it was not made with this key and data.</summary>
    public static byte[]? Open(byte[] key, byte[] sealedData, byte[] associatedData)
    {
        if (sealedData.Length < 12 + 16)
        {
            return null;
        }

        var plaintext = new byte[sealedData.Length - 28];
        try
        {
            using var aes = new AesGcm(key, 16);
            aes.Decrypt(sealedData.AsSpan(0, 12), sealedData.AsSpan(12, plaintext.Length), sealedData.AsSpan(12 + plaintext.Length), plaintext, associatedData);
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }
}

/// <summary>Encrypts data-protection keys before they are stored (in <c>dashboard_keys</c>), with <see cref="SessionSecret.RingKey"/>.</summary>
public sealed class SessionSecretXmlEncryptor(SessionSecret secret) : IXmlEncryptor
{
    internal static readonly byte[] AssociatedData = Encoding.ASCII.GetBytes("InvexQR data-protection key v1");

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var element = new XElement(
            "encryptedKey",
            new XComment(" AES-256-GCM with a key derived from Auth:SessionSecret "),
            new XElement("value", Convert.ToBase64String(SessionSecret.Seal(secret.RingKey, plaintext, AssociatedData))));
        return new EncryptedXmlInfo(element, typeof(SessionSecretXmlDecryptor));
    }
}

/// <summary>The other half of <see cref="SessionSecretXmlEncryptor"/>; data protection creates it with the service provider.</summary>
public sealed class SessionSecretXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var secret = services.GetService<SessionSecret>()
            ?? throw new InvalidOperationException($"A data-protection key is encrypted, but {SessionSecret.Setting} is not set.");
        var value = encryptedElement.Element("value")?.Value ?? throw new FormatException("An encrypted data-protection key has no value.");
        var plaintext = SessionSecret.Open(secret.RingKey, Convert.FromBase64String(value), SessionSecretXmlEncryptor.AssociatedData)
            ?? throw new CryptographicException($"A data-protection key was encrypted with another {SessionSecret.Setting}.");
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
