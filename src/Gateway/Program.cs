// The InvexQR gateway: /r/{code} scans and the management API, as an Orleans client of the silos
// (or, with Gateway:CoHostSilo=true, as a silo itself: src/Silo.Hosting/CoHostedSilo.cs).
using InvexQr.Gateway.Analytics;
using InvexQr.Gateway.ApiDocs;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.Dashboard;
using InvexQr.Gateway.Hosting;
using InvexQr.Gateway.Live;
using InvexQr.Gateway.Redirects;
using InvexQr.ServiceDefaults;
using InvexQr.ServiceDefaults.Telemetry;
using InvexQr.Silo.Hosting;

// A setting it refuses (weak admin key, cluster TLS missing or broken) ends it with one line on stderr and exit code 78.
return await StartupConfigurationException.GuardAsync("InvexQr.Gateway", async () =>
{
    // wwwroot (the dashboard) is copied next to the binaries, so it is found whatever the working directory.
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = args,
        WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
    });
    builder.AddInvexQrLoggingDefaults();
    builder.AddInvexQrClusterClient();
    builder.AddInvexQrApi();
    builder.AddWebhooksApi();
    builder.AddDashboard();
    builder.AddClientIp();
    builder.AddScanEnrichment();
    builder.AddInvexQrMetrics();
    builder.AddHttpHardening();
    builder.AddApiDocs();
    builder.AddOperatorEndpoints();
    builder.AddLiveView();
    builder.Services.AddExceptionHandler<BadRequestErrors>();
    builder.Services.AddExceptionHandler<ClusterErrors>();

    var app = builder.Build();
    await app.MigrateIfCoHostedAsync();

    // Load the GeoLite2 database and compile the uap-core rules now (~1 s), not on the first scan.
    app.Services.GetRequiredService<InvexQr.Enrichment.ScanEnricher>();
    app.Services.GetRequiredService<GatewayMetrics>();
    app.UseHttpHardening();
    app.UseClientIp();
    app.UseExceptionHandler();
    // Routing here, explicitly: a scan (RedirectEndpoints, short-circuited) is answered by the routing middleware
    // itself, with the security headers, client address and error answers above, and without the owners' middleware
    // below (time budget, status pages, dashboard files, authentication, CSRF check, authorization), which cost about
    // a third of the gateway's allocations per scan (docs/benchmarks.md, "Allocations per scan").
    app.UseRouting();
    app.UseRequestTimeBudget();
    app.UseStatusCodePages();
    app.UseDashboardFiles();
    app.UseAuthentication();
    app.UseOperatorEndpoints();
    app.UseDashboardCsrfCheck();
    app.UseAuthorization();
    app.UseGrainCaller();

    app.MapRedirects();
    app.MapCodesApi();
    app.MapRoutingApi();
    app.MapQrImagesApi();
    app.MapBulkApi();
    app.MapStatsApi();
    app.MapAccountsApi();
    app.MapLiveView();
    app.MapWebhooksApi();
    app.MapDashboard();
    app.MapInvexQrHealth();
    app.MapInvexQrMetrics();
    app.MapApiDocs();
    if (CoHostedSilo.IsEnabled(app.Configuration))
    {
        app.MapCoHostedOrleansDashboard();
    }

    await app.RunAsync();
    return 0;
});
