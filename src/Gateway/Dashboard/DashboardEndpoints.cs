using InvexQr.Data;
using InvexQr.Abstractions;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Grains.Accounts;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Dashboard;

/// <summary>
/// The owners' dashboard: a single page at <c>/</c> with its assets under <c>/app/</c> (from wwwroot), and the
/// session endpoints <c>/app/session</c> that exchange an API key for an HttpOnly, SameSite=Strict cookie.
/// Every dashboard response carries a strict Content-Security-Policy (no inline script or style).
/// </summary>
public static class DashboardEndpoints
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
        "font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    /// <summary>
    /// Data protection for the session cookie. Its keys live in PostgreSQL (<see cref="PostgresKeyRing"/>),
    /// shared by all gateways; <c>Dashboard:KeysPath</c> keeps them in a directory instead (then every
    /// gateway must mount the same one).
    /// </summary>
    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        var dataProtection = builder.Services.AddDataProtection().SetApplicationName("InvexQR");
        var sessions = DashboardSessionSettings.From(builder.Configuration);
        builder.Services.AddSingleton(sessions);
        if (sessions.Secret is { } secret)
        {
            // The key ring is encrypted at rest with a key from configuration: reading dashboard_keys is not enough to forge a cookie.
            builder.Services.AddSingleton(secret);
            builder.Services.Configure<KeyManagementOptions>(options => options.XmlEncryptor = new SessionSecretXmlEncryptor(secret));
        }

        string? keysProblem = null;
        var keysPath = builder.Configuration["Dashboard:KeysPath"];
        if (string.IsNullOrEmpty(keysPath))
        {
            builder.Services.AddOptions<KeyManagementOptions>()
                .Configure<Npgsql.NpgsqlDataSource>((options, dataSource) => options.XmlRepository = new PostgresKeyRing(dataSource));
            keysPath = "PostgreSQL table dashboard_keys";
        }
        else
        {
            keysPath = Path.GetFullPath(keysPath);
            try
            {
                Directory.CreateDirectory(keysPath);
                dataProtection.PersistKeysToFileSystem(new DirectoryInfo(keysPath));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Sessions still work, but only on this gateway and only until it restarts.
                keysProblem = ex.Message;
            }
        }

        builder.Services.AddSingleton(new DashboardKeys(keysPath, keysProblem));
        return builder;
    }

    /// <summary>Security headers on dashboard responses, then the static files of wwwroot.</summary>
    public static WebApplication UseDashboardFiles(this WebApplication app)
    {
        var keys = app.Services.GetRequiredService<DashboardKeys>();
        if (keys.Problem is not null)
        {
            app.Logger.LogWarning(
                "Dashboard: cannot keep data-protection keys in {Path} ({Problem}); sessions last until this gateway restarts and work on it alone. Set Dashboard:KeysPath to a writable directory shared by all gateways.",
                keys.Path, keys.Problem);
        }

        if (!app.Services.GetRequiredService<DashboardSessions>().Enabled)
        {
            app.Logger.LogWarning("Dashboard: sign-in is off until {Setting} is set (at least {Length} random characters); API keys work as usual.",
                SessionSecret.Setting, SessionSecret.MinLength);
        }

        app.Use(async (context, next) =>
        {
            if (IsDashboardPath(context.Request.Path))
            {
                var headers = context.Response.Headers;
                // nosniff, X-Frame-Options and Referrer-Policy come with every answer (HttpHardening).
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
            }

            await next(context);
        });

        var contentTypes = new FileExtensionContentTypeProvider();
        contentTypes.Mappings[".mjs"] = "text/javascript";
        app.UseStaticFiles(new StaticFileOptions
        {
            ContentTypeProvider = contentTypes,
            OnPrepareResponse = context =>
            {
                // Vendor files change only with the lock file; our own files are revalidated (ETag) on every use,
                // so a deployment never mixes old and new modules.
                context.Context.Response.Headers.CacheControl =
                    context.Context.Request.Path.StartsWithSegments("/app/vendor") ? "public, max-age=86400" : "no-cache";
            },
        });
        return app;
    }

    /// <summary>Unsafe requests authenticated by the session cookie must carry <c>X-InvexQR-CSRF: 1</c>; else 403.</summary>
    public static WebApplication UseDashboardCsrfCheck(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var method = context.Request.Method;
            var safe = HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method);
            if (!safe && context.User.IsSessionCookie() && context.Request.Headers[DashboardSessions.CsrfHeader] != "1")
            {
                await Results.Problem(
                    statusCode: StatusCodes.Status403Forbidden,
                    title: "CSRF header missing.",
                    detail: $"Requests authenticated by the session cookie that change something must send '{DashboardSessions.CsrfHeader}: 1'.")
                    .ExecuteAsync(context);
                return;
            }

            await next(context);
        });
        return app;
    }

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", (HttpContext context, IWebHostEnvironment environment) =>
        {
            var index = environment.WebRootFileProvider.GetFileInfo("index.html");
            if (!index.Exists || index.PhysicalPath is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "The dashboard is not installed in this build.");
            }

            // No user data is in the page, but never let a shared cache keep it either.
            context.Response.Headers.CacheControl = "no-cache, private";
            return Results.File(index.PhysicalPath, "text/html; charset=utf-8");
        }).ExcludeFromDescription();

        var session = endpoints.MapGroup("/app/session").WithTags("Dashboard");
        session.MapPost("/", SignInAsync).WithName("SignIn").WithSummary("Exchange an API key for the dashboard's session cookie.")
            .Accepts<SignInRequest>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        session.MapGet("/", WhoAmI).RequireAuthorization().WithName("WhoAmI").WithSummary("The signed-in owner.")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        session.MapDelete("/", SignOutAsync).WithName("SignOut").WithSummary("Sign out: the session ends on every gateway and its cookie is cleared.")
            .ProducesProblem(StatusCodes.Status403Forbidden);
        return endpoints;
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> SignInAsync(
        HttpContext context, ApiKeyAuthenticator authenticator, DashboardSessions sessions, FailedAuthThrottle failures)
    {
        var address = InvexQr.Gateway.Hosting.ClientIpSetup.ClientAddress(context);
        if (failures.RetryAfter(address) is { } wait)
        {
            return ApiKeyAuthenticationHandler.TooManyFailures(context, wait);
        }

        // JSON only: a cross-site HTML form cannot send application/json, so no one can sign a victim in.
        var (body, error) = await JsonBody.ReadAsync<SignInRequest>(context.Request);
        if (body is null)
        {
            return error!;
        }

        if (!sessions.Enabled)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Dashboard sign-in is not configured.",
                detail: $"The operator has not set {SessionSecret.Setting}; use the API with your key meanwhile.");
        }

        var key = body.ApiKey?.Trim() ?? string.Empty;
        var principal = key.Length is 0 or > 200 ? null : await authenticator.FindAsync(ApiKeys.Hash(key));
        if (principal is null)
        {
            failures.RecordFailure(address);
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Invalid API key.");
        }

        var (value, expiresAt) = sessions.Create(ApiKeys.Hash(key));
        context.Response.Cookies.Append(DashboardSessions.CookieName, value, DashboardSessions.CookieOptions(context.Request, expiresAt));
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.NoContent();
    }

    public static async Task<Ok<SessionResponse>> WhoAmI(HttpContext context, IClusterClient cluster)
    {
        var user = context.User;
        var owner = await cluster.GetGrain<IAccountsGrain>(0).FindOwner(user.OwnerId());
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new SessionResponse(
            user.OwnerId(),
            owner?.Name,
            user.FindFirst(System.Security.Claims.ClaimTypes.Role)?.Value,
            long.Parse(user.FindFirst("key_id")?.Value ?? "0", System.Globalization.CultureInfo.InvariantCulture),
            user.IsSessionCookie() ? "session" : "key"));
    }

    public static async Task<NoContent> SignOutAsync(HttpContext context, DashboardSessions sessions, SessionSignOuts signOuts)
    {
        // The session the caller authenticated with: ended on every gateway, not only in this browser.
        if (context.User.IsSessionCookie()
            && context.Request.Cookies[DashboardSessions.CookieName] is { } cookie
            && sessions.Read(cookie) is { } session)
        {
            await signOuts.SignOutAsync(session.Id, session.ExpiresAt);
        }

        context.Response.Cookies.Delete(DashboardSessions.CookieName, DashboardSessions.CookieOptions(context.Request, expires: null));
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.NoContent();
    }

    private static bool IsDashboardPath(PathString path) =>
        path == "/" || path == "/index.html" || path.StartsWithSegments("/app");

    public sealed record SignInRequest(string? ApiKey);

    /// <param name="SignedInWith"><c>session</c> (the dashboard's cookie) or <c>key</c> (an API key header).</param>
    public sealed record SessionResponse(
        long OwnerId, string? Name, string? Role, long KeyId, [property: System.ComponentModel.DataAnnotations.AllowedValues("session", "key")] string SignedInWith);

    public sealed record DashboardKeys(string Path, string? Problem);
}
