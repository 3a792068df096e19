using InvexQr.Abstractions;
using System.Data.Common;
using InvexQr.Grains.Codes;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Data;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.TestingHost;

namespace InvexQr.IntegrationTests.InProcess;

/// <summary>
/// An <see cref="InProcessTestCluster"/> whose silos use the real things: Orleans' ADO.NET
/// clustering and grain storage on a fresh PostgreSQL database (migrated with our migrations),
/// our code repository and our scan sink. Only the transport between silos is in-memory.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private PostgresCluster(InProcessTestCluster cluster, string connectionString, CountingCodeRepository.Counter reads)
    {
        Cluster = cluster;
        ConnectionString = connectionString;
        Reads = reads;
    }

    public InProcessTestCluster Cluster { get; }

    public string ConnectionString { get; }

    /// <summary>How often the silos read <c>qr_codes</c>.</summary>
    public CountingCodeRepository.Counter Reads { get; }

    public IClusterClient Client => Cluster.Client;

    public static async Task<PostgresCluster> StartAsync(PostgresServer postgres, short silos = 1)
    {
        var connectionString = await postgres.CreateDatabaseAsync("cluster");
        DbProviderFactories.RegisterFactory("Npgsql", NpgsqlFactory.Instance);
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
        {
            await new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance).ApplyAsync();
        }

        var reads = new CountingCodeRepository.Counter();
        var builder = new InProcessTestClusterBuilder(silos);
        // Membership through our PostgreSQL tables instead of the harness's in-memory table. The
        // option has no public setter in 10.4, hence reflection.
        typeof(InProcessTestClusterOptions).GetProperty("UseTestClusterMembership", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)!
            .SetValue(builder.Options, false);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Configuration["ConnectionStrings:Postgres"] = connectionString;
            host.Configuration["ScanSink:FlushIntervalMs"] = "50";
            host.AddInvexQrDatabase();
            host.AddScanSink();
            host.Services.AddSingleton(reads);
            host.Services.AddSingleton<ICodeRepository>(sp => new CountingCodeRepository(
                new CodeRepository(sp.GetRequiredService<NpgsqlDataSource>()), reads));
        });
        builder.ConfigureSilo((_, silo) => silo.UsePostgres(connectionString));
        builder.ConfigureClient(client => client.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        }));

        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new PostgresCluster(cluster, connectionString, reads);
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>How many activations of the grain class exist in the whole cluster right now.</summary>
    public async Task<int> ActivationsAsync<TGrain>()
    {
        var stats = await Client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        return stats.Where(s => s.GrainType.Contains(typeof(TGrain).Name, StringComparison.Ordinal)).Sum(s => s.ActivationCount);
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
