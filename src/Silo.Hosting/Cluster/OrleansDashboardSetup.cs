using InvexQr.Abstractions;
using InvexQr.ServiceDefaults;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// Orleans' own dashboard (<c>Microsoft.Orleans.Dashboard</c>) at <c>/orleans</c> on the silo's
/// HTTP port, for operators only: it needs the admin key (<c>Auth:ApiKey</c>), sent as HTTP Basic
/// (<c>admin</c> / the key, so a browser can prompt for it) or as <c>Bearer</c>. Without a
/// configured key the dashboard is not mapped at all — never anonymous. Its live log stream is
/// turned off: operators read logs where logs go.
/// </summary>
public static class OrleansDashboardSetup
{
    public const string Path = "/orleans";
    private const string Scheme = "OperatorKey";

    public static bool IsEnabled(IConfiguration configuration) =>
        configuration.GetValue("Dashboard:Enabled", true) && !string.IsNullOrEmpty(configuration["Auth:ApiKey"]);

    public static void AddDashboardIfEnabled(this ISiloBuilder silo, IConfiguration configuration)
    {
        if (IsEnabled(configuration))
        {
            silo.AddDashboard(o => o.HideTrace = true);
        }
    }

    /// <summary>
    /// Registers the operator key scheme without making it the default: a gateway that co-hosts the silo keeps
    /// its API key scheme as the default, and the dashboard's endpoints name this scheme themselves.
    /// </summary>
    public static IHostApplicationBuilder AddOperatorAuthentication(this IHostApplicationBuilder builder)
    {
        AdminKeyPolicy.EnsureStrong(builder.Configuration);
        builder.Services.AddAuthentication()
            .AddScheme<OperatorKeyOptions, OperatorKeyHandler>(Scheme, o => o.Key = builder.Configuration["Auth:ApiKey"]);
        builder.Services.AddAuthorization();
        return builder;
    }

    public static WebApplication MapOrleansDashboardForOperators(this WebApplication app)
    {
        if (!IsEnabled(app.Configuration))
        {
            app.Logger.LogInformation("Orleans dashboard off: it needs Auth:ApiKey (and Dashboard:Enabled not false)");
            return app;
        }

        // Operators' routes: kept out of the public OpenAPI document, which clients are generated from.
        app.MapOrleansDashboard(Path).RequireAuthorization(policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser())
            .ExcludeFromDescription();
        return app;
    }
}

public sealed class OperatorKeyOptions : AuthenticationSchemeOptions
{
    public string? Key { get; set; }
}

/// <summary>Accepts the configured admin key as <c>Basic admin:&lt;key&gt;</c> or <c>Bearer &lt;key&gt;</c>; compares in fixed time.</summary>
public sealed class OperatorKeyHandler(IOptionsMonitor<OperatorKeyOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<OperatorKeyOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(Options.Key) || header.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var presented = PresentedKey(header);
        if (presented is null || !FixedTimeEquals(presented, Options.Key))
        {
            return Task.FromResult(AuthenticateResult.Fail("Wrong operator key"));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin")], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Basic realm=\"InvexQR operators\", charset=\"UTF-8\"";
        return Task.CompletedTask;
    }

    private static string? PresentedKey(string header)
    {
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':');
            return colon > 0 && decoded[..colon] == "admin" ? decoded[(colon + 1)..] : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(InvexQr.Grains.Accounts.ApiKeys.Hash(a), InvexQr.Grains.Accounts.ApiKeys.Hash(b));
}
