using System.Net;
using System.Security.Cryptography.X509Certificates;
using InvexQr.ServiceDefaults;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The Orleans ports' settings (<c>Orleans:Tls</c>, env <c>Orleans__Tls__*</c>): the node's certificate and key
/// (PEM, or a PKCS#12 file with its password) and the PEM bundle of the cluster's own CAs, which every peer's
/// certificate must chain to (the operating system's trust store plays no part).
/// </summary>
public sealed class ClusterTlsSettings
{
    public const string Section = "Orleans:Tls";

    /// <summary>PEM certificate (its key may follow in the same file), or a <c>.pfx</c>/<c>.p12</c> file.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/>, when it is a file of its own.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of a PKCS#12 file, or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>PEM bundle of the CAs trusted for peers; two during a CA rollover.</summary>
    public string? CaPath { get; set; }

    /// <summary>Run the Orleans ports in clear on a network the operator vouches for; logged as a warning at start.</summary>
    public bool Disabled { get; set; }
}

/// <summary>Which Orleans endpoints a process has: a silo (silo and gateway ports, and outbound silo links) or a client.</summary>
public enum ClusterRole
{
    Silo,
    Client,
}

public enum ClusterTransportMode
{
    /// <summary>Mutual TLS against the cluster's CAs.</summary>
    MutualTls,

    /// <summary>No TLS, but the silo listens on loopback only (a single process or machine, e.g. <c>./run.sh</c>'s default without certificates).</summary>
    LoopbackOnly,

    /// <summary>No TLS by the operator's explicit choice (<c>Orleans:Tls:Disabled=true</c>).</summary>
    Disabled,
}

/// <summary>How this process's Orleans connections are protected, decided once at start-up.</summary>
public sealed record ClusterTransport(ClusterTransportMode Mode, ClusterRole Role, ClusterCredentials? Credentials, string Endpoints);

/// <summary>
/// Secure by default: a silo or gateway without cluster TLS refuses to start, unless its silo listens on loopback only
/// or the operator set <c>Orleans:Tls:Disabled=true</c>. With TLS, both ends present a certificate from the cluster's CA
/// and check the other's against it; a silo's certificate (server + client authentication) opens the silo-to-silo
/// port, a gateway's (client authentication) only the Orleans gateway port.
/// </summary>
public static class ClusterTls
{
    public static ClusterTransport Resolve(IConfiguration configuration, ClusterRole role, ClusterSettings cluster, TimeProvider? clock = null)
    {
        var settings = new ClusterTlsSettings();
        configuration.GetSection(ClusterTlsSettings.Section).Bind(settings);
        var configured = !string.IsNullOrWhiteSpace(settings.CertificatePath);
        var endpoints = role == ClusterRole.Silo
            ? $"{(cluster.ListenOnAnyAddress ? "every address" : cluster.AdvertisedIP)}, ports {cluster.SiloPort} (silo) and {cluster.GatewayPort} (gateway)"
            : "the silos' gateway ports";
        if (role == ClusterRole.Silo && !IPAddress.TryParse(cluster.AdvertisedIP, out _))
        {
            throw new StartupConfigurationException($"Orleans:AdvertisedIP (env Orleans__AdvertisedIP) \"{cluster.AdvertisedIP}\" is not an IP address.");
        }

        if (settings.Disabled)
        {
            return configured
                ? throw new StartupConfigurationException("Orleans:Tls:Disabled=true and Orleans:Tls:CertificatePath are both set: remove one.")
                : new ClusterTransport(ClusterTransportMode.Disabled, role, null, endpoints);
        }

        if (configured)
        {
            return new ClusterTransport(ClusterTransportMode.MutualTls, role, ClusterCredentials.Load(settings, role, clock ?? TimeProvider.System), endpoints);
        }

        if (role == ClusterRole.Silo && !cluster.ListenOnAnyAddress && IPAddress.IsLoopback(IPAddress.Parse(cluster.AdvertisedIP)))
        {
            return new ClusterTransport(ClusterTransportMode.LoopbackOnly, role, null, endpoints);
        }

        var exposure = role == ClusterRole.Silo
            ? $"the silo would listen on {endpoints} without TLS, and any Orleans client that reaches them could call every grain."
            : "the gateway would call the silos without TLS, unauthenticated and in clear.";
        throw new StartupConfigurationException(
            $"Orleans cluster TLS is not configured: {exposure} Set Orleans:Tls:CertificatePath, Orleans:Tls:KeyPath and Orleans:Tls:CaPath " +
            "(scripts/cluster-certs.sh makes a CA and certificates; docs/security.md)" +
            (role == ClusterRole.Silo ? ", or advertise a loopback address only (Orleans:AdvertisedIP=127.0.0.1)" : string.Empty) +
            ", or set Orleans:Tls:Disabled=true to run in clear on a network you trust.");
    }

    /// <summary>Mutual TLS on the silo port, the Orleans gateway port and this silo's connections to other silos.</summary>
    public static ISiloBuilder UseClusterTls(this ISiloBuilder silo, ClusterCredentials credentials) =>
        silo.Configure<SiloConnectionOptions>(options =>
        {
            options.ConfigureSiloInboundConnection(c => c.UseServerTls(credentials.ServerOptions(c.ApplicationServices, ClusterCredentials.SiloUsages)));
            options.ConfigureGatewayInboundConnection(c => c.UseServerTls(credentials.ServerOptions(c.ApplicationServices, ClusterCredentials.ClientUsages)));
            options.ConfigureSiloOutboundConnection(c => c.UseClientTls(credentials.ClientOptions(c.ApplicationServices)));
        });

    /// <summary>Mutual TLS on an Orleans client's connections to the silos' gateway ports.</summary>
    public static IClientBuilder UseClusterTls(this IClientBuilder client, ClusterCredentials credentials) =>
        client.Configure<ClientConnectionOptions>(options =>
            options.ConfigureConnection(c => c.UseClientTls(credentials.ClientOptions(c.ApplicationServices))));
}

/// <summary>Logs at start how the Orleans ports are protected; loudly when TLS is off by choice, or a certificate is close to expiry.</summary>
public sealed class ClusterTransportLog(ClusterTransport transport, GrainCallerTokens callers, ILogger<ClusterTransportLog> logger, TimeProvider clock) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!callers.Shared)
        {
            logger.Log(
                transport.Role == ClusterRole.Client ? LogLevel.Warning : LogLevel.Information,
                "No admin key (Auth:ApiKey): grain caller tokens are signed with a key of this process only, so management calls " +
                "between this and other processes are refused (a gateway that co-hosts its only silo is unaffected)");
        }

        switch (transport.Mode)
        {
            case ClusterTransportMode.MutualTls:
                var certificate = transport.Credentials!.Certificate;
                logger.LogInformation(
                    "Orleans cluster transport: mutual TLS on {Endpoints}; this {Role}'s certificate {Subject} (expires {NotAfter:u}), peers checked against {Authorities} CA certificate(s)",
                    transport.Endpoints, transport.Role, certificate.Subject, certificate.NotAfter.ToUniversalTime(), transport.Credentials.AuthorityCount);
                if (certificate.NotAfter.ToUniversalTime() - clock.GetUtcNow().UtcDateTime < TimeSpan.FromDays(30))
                {
                    logger.LogWarning("The Orleans cluster certificate {Subject} expires {NotAfter:u}: renew it (docs/security.md)", certificate.Subject, certificate.NotAfter.ToUniversalTime());
                }

                break;
            case ClusterTransportMode.LoopbackOnly:
                logger.LogInformation("Orleans cluster transport: no TLS, listening on loopback only ({Endpoints})", transport.Endpoints);
                break;
            default:
                logger.LogWarning(
                    "ORLEANS CLUSTER TLS IS DISABLED (Orleans:Tls:Disabled=true): {Endpoints} carry grain calls unauthenticated and in clear. " +
                    "Anyone who can reach them can call every grain, as any owner. Use this only on a network nothing else can reach.",
                    transport.Endpoints);
                break;
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The DI wiring of <see cref="ClusterTls"/> shared by silos and clients.</summary>
public static class ClusterTransportRegistration
{
    public static ClusterTransport AddClusterTransport(this IHostApplicationBuilder builder, ClusterRole role, ClusterSettings cluster)
    {
        var transport = ClusterTls.Resolve(builder.Configuration, role, cluster);
        builder.Services.AddSingleton(transport);
        builder.AddGrainCallerTokens();
        builder.Services.AddHostedService<ClusterTransportLog>();
        return transport;
    }
}
