using System.Security.Cryptography;
using System.Text;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// The C# verification snippet of docs/webhooks.md, verbatim between the markers (WebhookTests checks that the two are
/// the same text, then verifies real deliveries with it).
/// </summary>
public static class WebhookSnippet
{
    // snippet:begin
    public static bool VerifyInvexQrSignature(string secret, string header, byte[] body, TimeSpan tolerance)
    {
        string? t = null;
        var signatures = new List<string>();
        foreach (var part in header.Split(','))
        {
            var kv = part.Trim().Split('=', 2);
            if (kv.Length != 2) continue;
            if (kv[0] == "t") t = kv[1];
            else if (kv[0] == "v1") signatures.Add(kv[1]);
        }

        if (t is null || !long.TryParse(t, out var seconds)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > tolerance.TotalSeconds)
            return false;

        var signed = Encoding.UTF8.GetBytes(t + ".").Concat(body).ToArray();
        var expected = Encoding.ASCII.GetBytes(
            Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed)));
        return signatures.Any(s => CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(s)));
    }
    // snippet:end
}
