using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// The dashboard's session cookie. Its value is opaque: an ASP.NET Core data-protected (encrypted and
/// authenticated) payload of the session id, the SHA-256 hash of the API key that signed in, and the
/// expiry. Never the key itself. Each request turns it back into the key's principal through the same
/// cached hash lookup as an API key (<see cref="ApiKeyAuthenticator"/>), so a revoked key ends its
/// sessions too. Signing out is recorded for every gateway (<see cref="SessionSignOuts"/>), which the
/// authentication handler asks after reading the cookie.
/// </summary>
public sealed class DashboardSessions(IDataProtectionProvider dataProtection, TimeProvider clock)
{
    public const string CookieName = "invexqr_session";

    /// <summary>Unsafe requests authenticated by the cookie must carry this header with the value "1".</summary>
    public const string CsrfHeader = "X-InvexQR-CSRF";

    /// <summary>Claim type telling how the caller authenticated: "session" (cookie) or "key" (header).</summary>
    public const string AuthMethodClaim = "amr";

    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    private readonly IDataProtector _protector = dataProtection.CreateProtector("InvexQr.Dashboard.Session.v1");

    /// <summary>A new session for the key with <paramref name="keyHash"/>: the cookie value and its expiry.</summary>
    public (string Value, DateTimeOffset ExpiresAt) Create(byte[] keyHash)
    {
        var expiresAt = clock.GetUtcNow().Add(Lifetime);
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var payload = string.Join('|', "1", id, Convert.ToHexString(keyHash), expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        return (_protector.Protect(payload), expiresAt);
    }

    /// <summary>The session in a cookie value, or null when it is forged, damaged or expired (signed out: <see cref="SessionSignOuts"/>).</summary>
    public Session? Read(string value)
    {
        if (value.Length is 0 or > 4096)
        {
            return null;
        }

        string payload;
        try
        {
            payload = _protector.Unprotect(value);
        }
        catch (CryptographicException)
        {
            return null;
        }

        var parts = payload.Split('|');
        if (parts.Length != 4 || parts[0] != "1"
            || !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
        {
            return null;
        }

        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(expiry);
        if (expiresAt <= clock.GetUtcNow())
        {
            return null;
        }

        try
        {
            return new Session(parts[1], Convert.FromHexString(parts[2]), expiresAt);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public static CookieOptions CookieOptions(HttpRequest request, DateTimeOffset? expires) => new()
    {
        HttpOnly = true,
        Secure = request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = "/",
        Expires = expires,
        IsEssential = true,
    };

    public sealed record Session(string Id, byte[] KeyHash, DateTimeOffset ExpiresAt);
}
