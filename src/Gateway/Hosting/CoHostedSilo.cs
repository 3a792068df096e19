using InvexQr.Silo.Hosting;
using Orleans.Configuration;

namespace InvexQr.Gateway.Hosting;

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
        builder.AddInvexQrOrleans();
        // As the client's: a phone waits for the answer, so a quick 503 beats a 30-second hang.
        builder.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(
            builder.Configuration.GetValue("Orleans:ResponseTimeoutSeconds", 5)));
        return builder;
    }
}
