using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace InvexQr.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry metrics for both processes, scraped by Prometheus at <c>/metrics</c>: our own
/// meters (<see cref="InvexQrMeters"/>), Orleans' meters, ASP.NET Core/Kestrel and the .NET runtime.
/// <c>/metrics</c> is an operators' endpoint: the Kubernetes Ingress does not route it.
/// </summary>
public static class MetricsEndpoint
{
    public static IHostApplicationBuilder AddInvexQrMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
            .WithMetrics(metrics => metrics
            .AddMeter(InvexQrMeters.Gateway, InvexQrMeters.Silo)
            .AddMeter("Microsoft.Orleans")
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddRuntimeInstrumentation()
            // Latency buckets for a path whose answers take a few hundred microseconds to a few ms.
            .AddView(InvexQrMeters.RedirectDuration, new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
            })
            .AddView(InvexQrMeters.SinkFlushDuration, new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            })
            .AddView(InvexQrMeters.SinkBatchSize, new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [1, 10, 100, 500, 1000, 2500, 5000, 10000],
            })
            .AddPrometheusExporter());
        return builder;
    }

    public static IEndpointRouteBuilder MapInvexQrMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        return endpoints;
    }
}
