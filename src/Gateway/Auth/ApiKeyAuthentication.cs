using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using InvexQr.Grains.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// API-key authentication: <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>.
/// Keys are looked up by their SHA-256 hash (through <see cref="IAccountsGrain"/>, cached briefly in
/// <see cref="ApiKeyCache"/>). The admin key from configuration (<c>Auth:ApiKey</c>) bootstraps the
/// first owner: it authenticates as the owner named "admin", created on first use.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IClusterClient cluster,
    ApiKeyCache cache)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string BootstrapAdminName = "admin";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = PresentedKey(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (presented.Length is 0 or > 200)
        {
            return AuthenticateResult.Fail("Invalid API key.");
        }

        var hash = ApiKeys.Hash(presented);
        var principal = await cache.GetOrLookupAsync(hash, async () =>
        {
            if (!string.IsNullOrEmpty(Options.ApiKey) && CryptographicOperations.FixedTimeEquals(hash, ApiKeys.Hash(Options.ApiKey)))
            {
                var admin = await cluster.GetGrain<IAccountsGrain>(0).EnsureOwner(BootstrapAdminName, Roles.Admin);
                return new Principal(admin.Id, admin.Role, KeyId: 0);
            }

            return await cluster.GetGrain<IAccountsGrain>(0).Authenticate(hash);
        });

        if (principal is null)
        {
            return AuthenticateResult.Fail("Invalid API key.");
        }

        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, principal.OwnerId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Claim(ClaimTypes.Role, principal.Role),
                new Claim("key_id", principal.KeyId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Authentication required.",
            detail: "Send a valid API key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.").ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not allowed for this key's role.").ExecuteAsync(Context);
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
}
