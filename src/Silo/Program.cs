// The InvexQR silo: hosts the code grains on an Orleans cluster whose membership and grain state
// live in PostgreSQL, and writes raw scans to qr_scans through the silo-local scan sink.
//
//   InvexQr.Silo            apply migrations, then run the silo
//   InvexQr.Silo migrate    apply migrations and exit
//   InvexQr.Silo rollups rebuild|reconcile …, InvexQr.Silo retention …   operator commands (src/Silo.Hosting/SiloCommands.cs)
using InvexQr.ServiceDefaults;
using InvexQr.ServiceDefaults.Telemetry;
using InvexQr.Data;
using InvexQr.Silo.Hosting;

// A setting it refuses (weak admin key, cluster TLS missing or broken) ends it with one line on stderr and exit code 78.
return await StartupConfigurationException.GuardAsync("InvexQr.Silo", async () =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddInvexQrLoggingDefaults();
    builder.AddInvexQrDatabase();
    builder.AddScanSink();      // before Orleans: stops after it, so the sink drains last
    builder.AddInvexQrOrleans();
    builder.AddInvexQrMetrics();
    builder.AddOperatorAuthentication();

    var app = builder.Build();

    var command = SiloCommands.IsCommand(args);
    if (command || app.Configuration.GetValue("Database:MigrateOnStartup", true))
    {
        var applied = await app.Services.GetRequiredService<MigrationRunner>().ApplyAsync();
        app.Logger.LogInformation("Database schema up to date ({Applied} migrations applied now)", applied);
    }

    if (command)
    {
        return await SiloCommands.RunAsync(args, app.Services);
    }

    app.MapInvexQrHealth();
    app.MapInvexQrMetrics();
    app.MapOrleansDashboardForOperators();
    await app.RunAsync();
    return 0;
});
