using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// The dashboard's session cookie. Its value is opaque: an ASP.NET Core data-protected (encrypted and
/// authenticated) payload of the session id, when it was issued, its expiry, and the SHA-256 hash of the API key
/// that signed in, itself sealed (AES-256-GCM) with a key derived from <see cref="SessionSecret"/>. The hash is what
/// <c>api_keys.key_hash</c> holds, so the cookie carries it only sealed: someone who can read the database can
/// neither read nor make a cookie (the data-protection key ring is encrypted with the same secret). Each request
/// turns the cookie back into the key's principal through the same cached hash lookup as an API key
/// (<see cref="ApiKeyAuthenticator"/>), so a revoked key ends its sessions too. A session lasts
/// <see cref="DashboardSessionSettings.Lifetime"/> from when it was issued, whatever expiry its cookie names.
/// Signing out is recorded for every gateway (<see cref="SessionSignOuts"/>).
/// </summary>
public sealed class DashboardSessions(IDataProtectionProvider dataProtection, TimeProvider clock, DashboardSessionSettings settings)
{
    public const string CookieName = "invexqr_session";

    /// <summary>Unsafe requests authenticated by the cookie must carry this header with the value "1".</summary>
    public const string CsrfHeader = "X-InvexQR-CSRF";

    /// <summary>Claim type telling how the caller authenticated: "session" (cookie) or "key" (header).</summary>
    public const string AuthMethodClaim = "amr";

    /// <summary>The default session lifetime (<c>Auth:SessionLifetimeHours</c>).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    /// <summary>How far ahead of this gateway's clock another gateway's may be.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private readonly IDataProtector _protector = dataProtection.CreateProtector("InvexQr.Dashboard.Session.v2");

    /// <summary>False without <see cref="SessionSecret"/>: then nobody can sign in to the dashboard.</summary>
    public bool Enabled => settings.Secret is not null;

    /// <summary>A new session for the key with <paramref name="keyHash"/>: the cookie value and its expiry.</summary>
    public (string Value, DateTimeOffset ExpiresAt) Create(byte[] keyHash)
    {
        var secret = settings.Secret ?? throw new InvalidOperationException($"Dashboard sessions need {SessionSecret.Setting}.");
        var issuedAt = clock.GetUtcNow();
        var expiresAt = issuedAt.Add(settings.Lifetime);
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var header = Header(id, issuedAt.ToUnixTimeSeconds(), expiresAt.ToUnixTimeSeconds());
        var sealedHash = SessionSecret.Seal(secret.SealKey, keyHash, Encoding.ASCII.GetBytes(header));
        return (_protector.Protect(header + "|" + Convert.ToBase64String(sealedHash)), expiresAt);
    }

    /// <summary>The session in a cookie value, or null when it is forged, damaged, expired or older than the lifetime (signed out: <see cref="SessionSignOuts"/>).</summary>
    public Session? Read(string value)
    {
        if (value.Length is 0 or > 4096 || settings.Secret is not { } secret)
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
        if (parts.Length != 5 || parts[0] != "2"
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var issued)
            || !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var expiry)
            || issued > 253402300799 || expiry > 253402300799)
        {
            return null;
        }

        // Capped by the configured lifetime: a cookie naming a later expiry (or issued "in the future") buys nothing.
        var now = clock.GetUtcNow();
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(issued);
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(expiry);
        var capped = issuedAt.Add(settings.Lifetime);
        if (issuedAt > now.Add(ClockSkew) || (expiresAt < capped ? expiresAt : capped) <= now)
        {
            return null;
        }

        byte[] sealedHash;
        try
        {
            sealedHash = Convert.FromBase64String(parts[4]);
        }
        catch (FormatException)
        {
            return null;
        }

        var keyHash = SessionSecret.Open(secret.SealKey, sealedHash, Encoding.ASCII.GetBytes(Header(parts[1], issued, expiry)));
        return keyHash is null ? null : new Session(parts[1], keyHash, expiresAt < capped ? expiresAt : capped);
    }

    private static string Header(string id, long issuedAt, long expiresAt) =>
        string.Join('|', "2", id, issuedAt.ToString(CultureInfo.InvariantCulture), expiresAt.ToString(CultureInfo.InvariantCulture));

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

/// <summary>What sessions rest on: the secret (null: sign-in is off) and their lifetime (<c>Auth:SessionLifetimeHours</c>, default 8).</summary>
public sealed record DashboardSessionSettings(SessionSecret? Secret, TimeSpan Lifetime)
{
    public static DashboardSessionSettings From(IConfiguration configuration)
    {
        var hours = configuration.GetValue("Auth:SessionLifetimeHours", DashboardSessions.Lifetime.TotalHours);
        if (hours is <= 0 or > 24 * 30)
        {
            throw new InvalidOperationException("Auth:SessionLifetimeHours must be more than 0 and at most 720 (30 days).");
        }

        return new DashboardSessionSettings(SessionSecret.From(configuration), TimeSpan.FromHours(hours));
    }
}
