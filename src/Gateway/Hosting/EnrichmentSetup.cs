using InvexQr.Abstractions;
using InvexQr.Enrichment;
using InvexQr.Enrichment.Geo;
using InvexQr.Enrichment.UserAgents;
using InvexQr.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Hosting;

/// <summary>Scan enrichment runs in the gateway (see <see cref="ScanEnricher"/> for why).</summary>
public static class EnrichmentSetup
{
    public static WebApplicationBuilder AddScanEnrichment(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<GeoOptions>(builder.Configuration.GetSection(GeoOptions.Section));
        builder.Services.AddSingleton<GeoLocator>();
        builder.Services.Configure<UserAgentOptions>(builder.Configuration.GetSection(UserAgentOptions.Section));
        builder.Services.AddSingleton<UserAgentClassifier>();
        builder.Services.AddSingleton<IUserAgentClassifier>(sp => sp.GetRequiredService<UserAgentClassifier>());
        builder.Services.AddSingleton<ScanEnricher>();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddHealthChecks()
            .AddCheck<GeoHealthCheck>("geolocation", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<UserAgentRulesHealthCheck>("user-agent-rules", tags: [HealthEndpoints.ReadyTag]);
        return builder;
    }
}

/// <summary>
/// Degraded (still ready: redirects work) when the geolocation database is missing, or older than
/// <see cref="GeoOptions.MaxAgeDays"/> by its build date.
/// </summary>
public sealed class GeoHealthCheck(GeoLocator geo, IOptions<GeoOptions> options, TimeProvider clock) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (geo.Problem is not null)
        {
            return Task.FromResult(HealthCheckResult.Degraded(geo.Problem));
        }

        var maxAge = options.Value.MaxAgeDays;
        if (maxAge > 0 && geo.BuildDate is { } built && (clock.GetUtcNow() - built).TotalDays is var age && age > maxAge)
        {
            return Task.FromResult(HealthCheckResult.Degraded(
                $"{geo.DatabaseInfo} is {(int)age} days old, more than Geo:MaxAgeDays ({maxAge}): locations drift as address blocks move. "
                + "Put a newer GeoLite2-City.mmdb in its place (it is reloaded without a restart; README, \"Location data\")."));
        }

        return Task.FromResult(HealthCheckResult.Healthy(geo.DatabaseInfo));
    }
}

/// <summary>Degraded (still ready) when uap-core's rules could not be loaded.</summary>
public sealed class UserAgentRulesHealthCheck(UserAgentClassifier classifier) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(classifier.Problem is null
            ? HealthCheckResult.Healthy("uap-core rules loaded")
            : HealthCheckResult.Degraded(classifier.Problem));
}
