using InvexQr.Data;
using Orleans.Configuration;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// <c>Gateway:CoHostSilo=true</c>: the gateway process is also a silo, with the silo's scan sink, rollup
/// sink and grain storage, instead of an Orleans client of separate silo processes. A scan is then a
/// call to a grain in the same process: no serialization and no loopback hop between two processes.
/// It is one more silo of the cluster (same membership table), so it can be the only one on a single
/// machine, or run next to plain silos.
/// </summary>
public static class CoHostedSilo
{
    public static bool IsEnabled(IConfiguration configuration) => configuration.GetValue("Gateway:CoHostSilo", false);

    public static WebApplicationBuilder AddCoHostedSilo(this WebApplicationBuilder builder)
    {
        builder.AddInvexQrDatabase();   // the data source, repositories and migrations, and the "postgres" health check
        builder.AddScanSink();          // before Orleans: stops after it, so the sink drains last
        builder.AddInvexQrOrleans();     // with the Orleans dashboard's services (OrleansDashboardSetup)
        builder.AddOperatorAuthentication();
        // As the client's: a phone waits for the answer, so a quick 503 beats a 30-second hang.
        builder.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(
            builder.Configuration.GetValue("Orleans:ResponseTimeoutSeconds", 5)));
        return builder;
    }

    /// <summary>A co-hosted silo applies the migrations at start-up, as a silo does (unless <c>Database:MigrateOnStartup=false</c>).</summary>
    public static async Task MigrateIfCoHostedAsync(this WebApplication app)
    {
        if (IsEnabled(app.Configuration) && app.Configuration.GetValue("Database:MigrateOnStartup", true))
        {
            await app.Services.GetRequiredService<MigrationRunner>().ApplyAsync();
        }
    }

    /// <summary>
    /// What <c>Content-Security-Policy</c> lets the Orleans dashboard run on the gateway's port: its own
    /// scripts, styles and fonts, the inline styles its charts set, and its JSON calls. No other origin,
    /// no inline script, no frames. Every other answer keeps HttpHardening's <c>default-src 'none'</c>.
    /// </summary>
    public const string OrleansDashboardPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    /// <summary>
    /// The silo in this process serves the Orleans dashboard at <c>/orleans</c> on the gateway's own port, as a
    /// separate silo does on its HTTP port: for operators with the admin key only, never anonymous.
    /// </summary>
    public static WebApplication MapCoHostedOrleansDashboard(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(OrleansDashboardSetup.Path))
            {
                context.Response.Headers.ContentSecurityPolicy = OrleansDashboardPolicy;
            }

            return next(context);
        });
        app.MapOrleansDashboardForOperators();
        return app;
    }
}
