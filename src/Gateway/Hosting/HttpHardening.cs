using Microsoft.AspNetCore.Http.Timeouts;

namespace InvexQr.Gateway.Hosting;

/// <summary>
/// Limits and headers for a process that faces the internet: small request bodies and headers,
/// short header timeouts (slow-loris), security headers on every answer, and a request time budget
/// (after routing: <see cref="UseRequestTimeBudget"/>). Pages that need a different
/// Content-Security-Policy (the dashboard, the 404/410/429 pages) set their own; the default here
/// forbids everything, which fits JSON, CSV and images.
/// </summary>
public static class HttpHardening
{
    /// <summary>JSON bodies of the API are a few hundred bytes; 64 KB leaves room and stops floods.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    public static WebApplicationBuilder AddHttpHardening(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.MaxRequestHeaderCount = 64;
            kestrel.Limits.MaxRequestLineSize = 8 * 1024;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
        });
        builder.Services.AddRequestTimeouts(o => o.DefaultPolicy = new RequestTimeoutPolicy
        {
            Timeout = TimeSpan.FromSeconds(30),
            TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
        });
        return builder;
    }

    public static WebApplication UseHttpHardening(this WebApplication app)
    {
        // Gateway:HstsMaxAgeDays (default 0, off): browsers that reached us over HTTPS keep to it. Off by default
        // because it binds the whole host name for that long; set it once HTTPS is there to stay.
        var hstsDays = app.Configuration.GetValue("Gateway:HstsMaxAgeDays", 0);
        if (hstsDays is < 0 or > 730)
        {
            throw new InvalidOperationException("Gateway:HstsMaxAgeDays must be from 0 (off) to 730.");
        }

        var hsts = hstsDays > 0 ? $"max-age={hstsDays * 86400}" : null;
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            context.Response.OnStarting(() =>
            {
                if (hsts is not null && context.Request.IsHttps)
                {
                    headers.StrictTransportSecurity = hsts;
                }

                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.XFrameOptions = "DENY";
                // API answers carry keys, codes and scan data: no cache may keep them unless an endpoint says otherwise.
                if (!headers.ContainsKey("Cache-Control") && context.Request.Path.StartsWithSegments("/api"))
                {
                    headers.CacheControl = "no-store";
                }

                if (!headers.ContainsKey("Content-Security-Policy"))
                {
                    headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
                }

                return Task.CompletedTask;
            });
            return next(context);
        });
        return app;
    }

    /// <summary>
    /// The request time budget, after routing so that endpoints can opt out: a scan has the cluster call's own,
    /// much shorter timeout (<c>Orleans:ResponseTimeoutSeconds</c>), and skips this middleware altogether.
    /// </summary>
    public static WebApplication UseRequestTimeBudget(this WebApplication app)
    {
        app.UseRequestTimeouts();
        return app;
    }
}
