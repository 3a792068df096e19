using InvexQr.Silo.Hosting;
using InvexQr.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A plain Orleans client in the test process, as someone who reached the Orleans ports would write one: it finds the
/// silos through the membership table (cluster id and connection string) and connects with the TLS settings it is given
/// (none: in clear), through the product's own client wiring (<see cref="ClusterTls"/>).
/// </summary>
public sealed class OrleansProbe : IAsyncDisposable
{
    private readonly IHost _host;

    private OrleansProbe(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects, or throws what the connection failed with (within 30 s).</summary>
    public static async Task<OrleansProbe> ConnectAsync(string connectionString, string clusterId, IDictionary<string, string>? tls)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(tls?.ToDictionary(s => s.Key, s => (string?)s.Value) ?? []);
        var cluster = new ClusterSettings { ClusterId = clusterId, ServiceId = "invexqr-tests" };
        var credentials = tls is null ? null : ClusterTls.Resolve(builder.Configuration, ClusterRole.Client, cluster).Credentials;
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(cluster.ApplyTo);
            if (credentials is not null)
            {
                client.UseClusterTls(credentials);
            }

            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            // One attempt: a refused client fails at once with what refused it, instead of retrying until the deadline.
            client.UseConnectionRetryFilter((_, _) => Task.FromResult(false));
            client.Configure<ConnectionOptions>(o => o.OpenConnectionTimeout = TimeSpan.FromSeconds(5));
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new OrleansProbe(host);
    }

    /// <summary>Settings of a client that holds a certificate of another CA but trusts the cluster's CA for the silos' certificates.</summary>
    public static Dictionary<string, string> ForeignClientSettings()
    {
        var foreign = ClusterCertificates.Foreign;
        var bundle = Path.Combine(foreign.Directory, "foreign-and-cluster-ca.crt");
        File.WriteAllText(bundle, File.ReadAllText(foreign.CaPath) + "\n" + File.ReadAllText(ClusterCertificates.Cluster.CaPath) + "\n");
        var settings = foreign.GatewaySettings();
        settings["Orleans:Tls:CaPath"] = bundle;
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _host.Dispose();
        }
    }
}
