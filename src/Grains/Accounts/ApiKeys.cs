using System.Security.Cryptography;
using System.Text;

namespace InvexQr.Grains.Accounts;

/// <summary>API key format and hashing: <c>iqr_</c> + 32 random base62 characters (~190 bits).</summary>
public static class ApiKeys
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string NewKey() => "iqr_" + RandomNumberGenerator.GetString(Alphabet, 32);

    /// <summary>What listings show to recognise a key: its first 8 characters.</summary>
    public static string Prefix(string key) => key.Length <= 8 ? key : key[..8];

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
