using InvexQr.Abstractions;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using InvexQr.Grains.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// API-key authentication: <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>, or else the
/// dashboard's session cookie (<see cref="DashboardSessions"/>), which carries the key's hash. Keys are looked
/// up by their SHA-256 hash (through <see cref="IAccountsGrain"/>, cached briefly in <see cref="ApiKeyCache"/>).
/// The admin key from configuration (<c>Auth:ApiKey</c>) bootstraps the first owner: it authenticates as the
/// owner named "admin", created on first use. A key in a header wins over a cookie; the claim
/// <see cref="DashboardSessions.AuthMethodClaim"/> says which one was used (CSRF rules apply to cookies only).
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyAuthenticator authenticator,
    DashboardSessions sessions,
    SessionSignOuts signOuts,
    FailedAuthThrottle failures)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string BootstrapAdminName = Roles.BootstrapAdminName;

    private const string ThrottledItem = "InvexQr.FailedAuthThrottled";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = PresentedKey(Request);
        if (presented is null)
        {
            return await AuthenticateSessionAsync();
        }

        var address = InvexQr.Gateway.Hosting.ClientIpSetup.ClientAddress(Context);
        if (failures.RetryAfter(address) is { } wait)
        {
            Context.Items[ThrottledItem] = wait;
            return AuthenticateResult.Fail("Too many wrong API keys from this address.");
        }

        var principal = presented.Length is 0 or > 200 ? null : await authenticator.FindAsync(ApiKeys.Hash(presented));
        if (principal is null)
        {
            failures.RecordFailure(address);
            return AuthenticateResult.Fail("Invalid API key.");
        }

        return Success(principal, "key");
    }

    private async Task<AuthenticateResult> AuthenticateSessionAsync()
    {
        var cookie = Request.Cookies[DashboardSessions.CookieName];
        if (cookie is null)
        {
            return AuthenticateResult.NoResult();
        }

        var session = sessions.Read(cookie);
        if (session is null)
        {
            return AuthenticateResult.Fail("Session expired or invalid.");
        }

        if (await signOuts.IsSignedOutAsync(session))
        {
            return AuthenticateResult.Fail("Signed out.");
        }

        // The key's hash, looked up like a presented key every time: a revoked key ends its sessions.
        var principal = await authenticator.FindAsync(session.KeyHash);
        return principal is null ? AuthenticateResult.Fail("The session's API key is no longer valid.") : Success(principal, "session");
    }

    private static AuthenticateResult Success(Principal principal, string method)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, principal.OwnerId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(ClaimTypes.Role, principal.Role),
            new("key_id", principal.KeyId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(DashboardSessions.AuthMethodClaim, method),
        };
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items[ThrottledItem] is TimeSpan wait)
        {
            await TooManyFailures(Context, wait).ExecuteAsync(Context);
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Authentication required.",
            detail: "Send a valid API key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>', or sign in to the dashboard.").ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not allowed for this key's role.").ExecuteAsync(Context);
    }

    /// <summary>429 with Retry-After for an address that presented too many wrong keys (<see cref="FailedAuthThrottle"/>).</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult TooManyFailures(HttpContext context, TimeSpan wait)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many wrong API keys.",
            detail: "This address presented too many wrong API keys; wait for the time in Retry-After.");
    }

    private static string? PresentedKey(HttpRequest request)
    {
        var authorization = request.Headers[HeaderNames.Authorization].ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        var apiKey = request.Headers["X-Api-Key"].ToString();
        return apiKey.Length > 0 ? apiKey.Trim() : null;
    }
}

public sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The bootstrap admin key from configuration.</summary>
    public string? ApiKey { get; set; }
}

/// <summary>The caller's owner id, from the authenticated principal.</summary>
public static class CallerExtensions
{
    public static long OwnerId(this ClaimsPrincipal user) =>
        long.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>True when the caller authenticated with the dashboard's session cookie (not a key in a header).</summary>
    public static bool IsSessionCookie(this ClaimsPrincipal user) => user.HasClaim(DashboardSessions.AuthMethodClaim, "session");
}
