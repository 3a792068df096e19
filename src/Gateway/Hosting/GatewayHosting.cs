using InvexQr.Silo.Hosting;
using InvexQr.Data;
using System.Data.Common;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.Redirects;
using InvexQr.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Orleans.Configuration;

namespace InvexQr.Gateway.Hosting;

/// <summary>Service registration for the gateway process, kept out of Program.cs.</summary>
public static class GatewayHosting
{
    /// <summary>Authorization policy of the routes that manage owners.</summary>
    public const string AdminPolicy = "admin";

    /// <summary>
    /// The Orleans client: finds silos through the same PostgreSQL membership table. Or, with
    /// <c>Gateway:CoHostSilo</c>, a silo in this process (<see cref="CoHostedSilo"/>).
    /// </summary>
    public static WebApplicationBuilder AddInvexQrClusterClient(this WebApplicationBuilder builder)
    {
        var cluster = ClusterSettings.From(builder.Configuration);
        var connectionString = PostgresConnection.Resolve(builder.Configuration);
        DbProviderFactories.RegisterFactory("Npgsql", NpgsqlFactory.Instance);
        var coHosted = CoHostedSilo.IsEnabled(builder.Configuration);
        if (coHosted)
        {
            builder.AddCoHostedSilo();
        }
        else
        {
            var transport = builder.AddClusterTransport(ClusterRole.Client, cluster);
            builder.UseOrleansClient(client =>
            {
                client.Configure<ClusterOptions>(cluster.ApplyTo);
                if (transport.Credentials is { } credentials)
                {
                    client.UseClusterTls(credentials);
                }

                client.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
                // A phone waits for the answer: better a quick 503 it can retry than a 30-second hang.
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(
                    builder.Configuration.GetValue("Orleans:ResponseTimeoutSeconds", 5)));
                // Which silos take client connections, read again from the membership table this often (Orleans'
                // default is a minute): silos added by a scale-out share the gateways' traffic within seconds, and
                // silos that left drop out of the list as quickly.
                client.Configure<Orleans.Configuration.GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(Math.Max(1,
                    builder.Configuration.GetValue("Orleans:GatewayListRefreshSeconds", 5.0))));
                // Read the driver exceptions a silo may send back inside Orleans' storage exceptions (see SiloHosting).
                client.Services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Npgsql"));
                // Silos may start after the gateway (compose, Kubernetes): keep trying instead of exiting.
                client.UseConnectionRetryFilter(async (_, cancellationToken) =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                    return true;
                });
            });
        }

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CodeLookup>();
        builder.Services.Configure<UnknownCodeOptions>(builder.Configuration.GetSection(UnknownCodeOptions.Section));
        builder.Services.AddSingleton<UnknownCodeGuard>();
        // Stats and CSV exports read PostgreSQL directly (rollups, raw scans): reads need no grain.
        builder.Services.AddSingleton<StatsQueries>();
        builder.Services.AddSingleton<OwnerFallbacks>();
        builder.Services.AddSingleton<ScanExportQueries>();
        builder.Services.AddSingleton<OwnerCodeCounts>();
        if (!coHosted)
        {
            // A co-hosted silo registered both already.
            builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
            builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres", tags: [HealthEndpoints.ReadyTag]);
        }

        builder.Services.AddHealthChecks().AddCheck<ClusterHealthCheck>("orleans-cluster", tags: [HealthEndpoints.ReadyTag]);
        return builder;
    }

    public static WebApplicationBuilder AddInvexQrApi(this WebApplicationBuilder builder)
    {
        AdminKeyPolicy.EnsureStrong(builder.Configuration);
        builder.Services.Configure<GatewayOptions>(builder.Configuration.GetSection(GatewayOptions.Section));
        builder.Services.Configure<QrImages.QrImageLimits>(builder.Configuration.GetSection(QrImages.QrImageLimits.Section));
        builder.Services.AddSingleton<QrImages.QrRenderGate>();
        builder.Services.AddOptions<Api.OwnerLimits>().Bind(builder.Configuration.GetSection(Api.OwnerLimits.Section))
            .Validate(o => o.MaxCodes >= 1 && o.MaxThrottleBurst >= 1 && o.MaxThrottlePerMinute >= 1, "Owners:MaxCodes, MaxThrottleBurst and MaxThrottlePerMinute must be at least 1.")
            .ValidateOnStart();
        builder.Services.AddProblemDetails();
        // A query parameter that does not parse (size=abc) throws, so BadRequestErrors answers 400 problem+json naming it.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(
                ApiKeyAuthenticationHandler.SchemeName, o => o.ApiKey = builder.Configuration["Auth:ApiKey"]);
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddSingleton<ApiKeyAuthenticator>();
        builder.Services.AddSingleton<DashboardSessions>(); // the handler also reads the dashboard's session cookie
        builder.Services.AddSingleton<SessionSignOuts>();
        builder.Services.AddSingleton<FailedAuthThrottle>();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, policy => policy.RequireRole(InvexQr.Abstractions.Roles.Admin));
        builder.Services.Configure<Microsoft.AspNetCore.Http.Json.JsonOptions>(o =>
            o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never);
        return builder;
    }
}

/// <summary>Ready when at least one silo answers through the cluster client.</summary>
public sealed class ClusterHealthCheck(IClusterClient cluster) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var hosts = await cluster.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            return hosts.Count > 0
                ? HealthCheckResult.Healthy($"{hosts.Count} active silo(s)")
                : HealthCheckResult.Unhealthy("No active silo");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("Cluster unreachable: " + ex.Message);
        }
    }
}
