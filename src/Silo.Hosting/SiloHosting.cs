using Microsoft.Extensions.DependencyInjection.Extensions;
using InvexQr.Abstractions;
using System.Data.Common;
using System.Net;
using InvexQr.Grains.Accounts;
using InvexQr.Grains.Analytics;
using InvexQr.Grains.Protection;
using InvexQr.Silo.Hosting;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Scans;
using InvexQr.ServiceDefaults;
using InvexQr.Data;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using InvexQr.Silo.Hosting.Webhooks;

namespace InvexQr.Silo.Hosting;

/// <summary>Service registration for the silo process, kept out of Program.cs.</summary>
public static class SiloHosting
{
    public static IHostApplicationBuilder AddInvexQrDatabase(this IHostApplicationBuilder builder)
    {
        var connectionString = PostgresConnection.Resolve(builder.Configuration);
        // Orleans' ADO.NET providers find the driver by its invariant name.
        DbProviderFactories.RegisterFactory("Npgsql", NpgsqlFactory.Instance);
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddSingleton<MigrationRunner>();
        builder.Services.AddSingleton<ICodeRepository, CodeRepository>();
        builder.Services.AddSingleton<IBulkCodeRepository, BulkCodeRepository>();
        builder.Services.AddSingleton<CodeLoader>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IAccountRepository, AccountRepository>();
        builder.Services.AddSingleton<ScanRetention>();
        builder.Services.AddSingleton<ScanPartitions>();
        builder.Services.AddSingleton<RollupRebuild>();
        builder.Services.Configure<PrivacyOptions>(builder.Configuration.GetSection("Privacy"));
        builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres", tags: [HealthEndpoints.ReadyTag]);
        return builder;
    }

    /// <summary>
    /// The scan sink and rollup sink (and the privacy salts the grains hash with). Must be registered before <see cref="AddInvexQrOrleans"/>: hosted services stop
    /// in reverse order, so the sinks drain after the silo has stopped taking scans.
    /// </summary>
    public static IHostApplicationBuilder AddScanSink(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<ScanSinkOptions>(builder.Configuration.GetSection(ScanSinkOptions.Section));
        builder.Services.AddOptions<ScanSinkOptions>().PostConfigure<IOptions<EndpointOptions>, IOptions<ClusterOptions>>((options, endpoints, cluster) =>
        {
            if (string.IsNullOrWhiteSpace(options.SpoolDirectory))
            {
                // One directory per silo port of a cluster on this machine; a silo restarted on its port finds its spool again.
                var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
                options.SpoolDirectory = Path.Combine(
                    string.IsNullOrEmpty(root) ? Path.GetTempPath() : root, "invexqr", "spool",
                    $"{cluster.Value.ServiceId}-{cluster.Value.ClusterId}-{endpoints.Value.SiloPort}");
            }
        });
        builder.Services.AddSingleton<ScanWriter>();
        builder.Services.AddSingleton<SiloMetrics>();
        builder.Services.AddSingleton<ScanSink>();
        builder.Services.AddSingleton<IScanSink>(sp => sp.GetRequiredService<ScanSink>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScanSink>());
        builder.Services.AddHostedService<ScanPartitionMaintenance>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp =>
        {
            var load = SiloLoad.Create(
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SiloLoad>>(), builder.Configuration["Silo:CpuPressureFile"]);
            sp.GetRequiredService<SiloMetrics>().ObserveCpuPressure(() => load.Pressure);
            return load;
        });

        builder.Services.AddSingleton<RollupRepository>();
        builder.Services.AddSingleton<IRollupStore>(sp => sp.GetRequiredService<RollupRepository>());
        builder.Services.AddSingleton<RollupSink>();
        builder.Services.AddSingleton<IRollupSink>(sp => sp.GetRequiredService<RollupSink>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RollupSink>());
        builder.Services.AddSingleton<SaltRepository>();
        builder.Services.AddSingleton<DailySalts>();
        builder.Services.AddSingleton<IDailySalts>(sp => sp.GetRequiredService<DailySalts>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DailySalts>());
        builder.Services.Configure<ThrottleOptions>(builder.Configuration.GetSection("Throttle"));
        // Live views: scans of watched codes, coalesced a few times a second into the live hub.
        builder.AddGrainCallerTokens();
        builder.Services.AddSingleton<LiveTap>();
        builder.Services.AddSingleton<InvexQr.Grains.Live.ILiveTap>(sp => sp.GetRequiredService<LiveTap>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveTap>());
        builder.AddWebhookDelivery();
        return builder;
    }

    public static IHostApplicationBuilder AddInvexQrOrleans(this IHostApplicationBuilder builder)
    {
        var cluster = ClusterSettings.From(builder.Configuration);
        var connectionString = PostgresConnection.Resolve(builder.Configuration);
        var transport = builder.AddClusterTransport(ClusterRole.Silo, cluster);
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(cluster.ApplyTo);
            // The advertised address only, unless asked: other silos and the gateways reach this silo there.
            silo.ConfigureEndpoints(
                IPAddress.Parse(cluster.AdvertisedIP), cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: cluster.ListenOnAnyAddress);
            if (transport.Credentials is { } credentials)
            {
                silo.UseClusterTls(credentials);
            }

            if (!string.IsNullOrWhiteSpace(cluster.SiloName))
            {
                silo.Configure<SiloOptions>(o => o.SiloName = cluster.SiloName);
            }

            silo.UsePostgres(connectionString);
            // How fast a dead silo is detected (Orleans' defaults unless set): e.g. Orleans__Membership__ProbeTimeout=00:00:02.
            silo.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:Membership"));
            silo.AddDashboardIfEnabled(builder.Configuration);
            silo.AddIncomingGrainCallFilter<DatabaseErrorFilter>();
            // Management calls must carry a caller the gateway signed, acting for the owner id they pass.
            silo.AddIncomingGrainCallFilter<GrainCallerFilter>();
            // Grain-state reads during activation fail with Orleans' storage exception wrapping the driver's:
            // let the driver's exceptions cross the wire too, or the caller gets a codec error instead.
            silo.Services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Npgsql"));
            // How long an idle grain stays active (Orleans' defaults when unset); bench/run.sh shortens it so that
            // codes deactivate during a run as they would over a day. Orleans wants the quantum below the age.
            var collectionAge = builder.Configuration.GetValue<double?>("Orleans:GrainCollectionAgeSeconds");
            var collectionQuantum = builder.Configuration.GetValue<double?>("Orleans:GrainCollectionQuantumSeconds");
            if (collectionAge is not null || collectionQuantum is not null)
            {
                silo.Configure<GrainCollectionOptions>(o =>
                {
                    o.CollectionAge = collectionAge is { } age ? TimeSpan.FromSeconds(age) : o.CollectionAge;
                    o.CollectionQuantum = collectionQuantum is { } quantum ? TimeSpan.FromSeconds(quantum)
                        : TimeSpan.FromTicks(Math.Min(o.CollectionQuantum.Ticks, o.CollectionAge.Ticks / 2));
                });
            }
        });

        builder.Services.AddHealthChecks().AddCheck<SiloJoinedHealthCheck>("orleans-silo", tags: [HealthEndpoints.ReadyTag]);

        // Long enough for the silo to hand its grains over and the sink to drain.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(
            builder.Configuration.GetValue("ShutdownTimeoutSeconds", 30)));
        return builder;
    }

    /// <summary>Membership and grain state in PostgreSQL, through Orleans' ADO.NET providers.</summary>
    public static ISiloBuilder UsePostgres(this ISiloBuilder silo, string connectionString)
    {
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        });
        silo.AddAdoNetGrainStorageAsDefault(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        });
        return silo;
    }
}
