using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace InvexQr.Grains.Webhooks;

/// <summary>
/// Signs deliveries: <c>X-InvexQR-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, t + "." + body)&gt;</c>.
/// The timestamp inside the signed text lets a receiver refuse replays of an old request (docs/webhooks.md).
/// </summary>
public static class WebhookSignature
{
    public const string Header = "X-InvexQR-Signature";
    public const string DeliveryHeader = "X-InvexQR-Delivery";
    public const string SecretPrefix = "whsec_";

    /// <summary>A new endpoint secret: 32 random bytes, base64url, with a recognisable prefix.</summary>
    public static string NewSecret() =>
        SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string HeaderValue(string secret, long timestamp, ReadOnlySpan<byte> body) =>
        $"t={timestamp.ToString(CultureInfo.InvariantCulture)},v1={Compute(secret, timestamp, body)}";

    public static string Compute(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        // Fed in two parts: a batch body is up to a few hundred KB, not worth copying behind its prefix.
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + "."));
        hmac.AppendData(body);
        return Convert.ToHexStringLower(hmac.GetHashAndReset());
    }

    /// <summary>
    /// What a receiver does (the C# snippet of docs/webhooks.md): parse t and v1, refuse a timestamp more than
    /// <paramref name="tolerance"/> away from now, and compare the HMAC in constant time.
    /// </summary>
    public static bool Verify(string secret, string? header, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        long? timestamp = null;
        var signatures = new List<string>();
        foreach (var part in header.Split(','))
        {
            var kv = part.Trim().Split('=', 2);
            if (kv.Length != 2)
            {
                continue;
            }

            if (kv[0] == "t" && long.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out var t))
            {
                timestamp = t;
            }
            else if (kv[0] == "v1")
            {
                signatures.Add(kv[1]);
            }
        }

        if (timestamp is not { } ts || Math.Abs(now.ToUnixTimeSeconds() - ts) > tolerance.TotalSeconds)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Compute(secret, ts, body));
        return signatures.Any(s => CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(s)));
    }
}
