using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using InvexQr.ServiceDefaults;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Connections.Security;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// This node's certificate and the CAs its peers must chain to, read from the files of <see cref="ClusterTlsSettings"/>.
/// Checked when loaded (key present, issued by one of the CAs, valid now, usable for the node's role), so a broken set
/// stops the process at start with the setting named. The files are looked at again at most every
/// <see cref="RecheckInterval"/> and reloaded when they changed, so a renewed certificate (cert-manager rewrites the
/// Secret's files in place) or a CA bundle with a second CA reaches new connections without a restart; a set that
/// fails its checks then is logged and the previous one kept.
/// </summary>
public sealed class ClusterCredentials
{
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>What a peer's certificate must allow to open the silo-to-silo port: it must be a silo's.</summary>
    public static readonly string[] SiloUsages = [ServerAuthentication, ClientAuthentication];

    /// <summary>What a peer's certificate must allow to open the Orleans gateway port: any cluster member's.</summary>
    public static readonly string[] ClientUsages = [ClientAuthentication];

    private static readonly string[] ServerPeerUsages = [ServerAuthentication];

    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(30);

    private readonly ClusterTlsSettings _settings;
    private readonly ClusterRole _role;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private Material _current;
    private DateTimeOffset _nextCheck;

    private ClusterCredentials(ClusterTlsSettings settings, ClusterRole role, TimeProvider clock, Material material)
    {
        _settings = settings;
        _role = role;
        _clock = clock;
        _current = material;
        _nextCheck = clock.GetUtcNow() + RecheckInterval;
    }

    /// <summary>Where reload failures go; the TLS options set it from the host's logger factory.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>This node's certificate, with its private key (reloaded if its files changed).</summary>
    public X509Certificate2 Certificate => Current().Certificate;

    public int AuthorityCount => Current().Authorities.Count;

    /// <summary>Reads and checks the files; throws <see cref="StartupConfigurationException"/> naming what is wrong.</summary>
    public static ClusterCredentials Load(ClusterTlsSettings settings, ClusterRole role, TimeProvider clock) =>
        new(settings, role, clock, Material.Read(settings, role, clock.GetUtcNow()));

    /// <summary>
    /// Whether <paramref name="peer"/> chains to one of the cluster's CAs (and only to them) and allows every one of
    /// <paramref name="usages"/>. <paramref name="presented"/> supplies intermediates the peer sent.
    /// </summary>
    public bool IsTrustedPeer(X509Certificate2 peer, X509Chain? presented, IReadOnlyList<string> usages)
    {
        var material = Current();
        if (!usages.All(usage => Allows(peer, usage)))
        {
            return false;
        }

        using var chain = NewChain(material.Authorities, _clock.GetUtcNow());
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(peer);
    }

    /// <summary>TLS options of an inbound port: a certificate is required from every peer and must allow <paramref name="usages"/>.</summary>
    public TlsOptions ServerOptions(IServiceProvider services, IReadOnlyList<string> usages)
    {
        Logger = LoggerFrom(services);
        return new TlsOptions
        {
            LocalServerCertificateSelector = (_, _) => Certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = (certificate, chain, _) => Validate(certificate, chain, usages, "client"),
        };
    }

    /// <summary>TLS options of an outbound connection: present this node's certificate, require the silo's.</summary>
    public TlsOptions ClientOptions(IServiceProvider services)
    {
        Logger = LoggerFrom(services);
        return new TlsOptions
        {
            // The middleware checks LocalCertificate once when it is built; the selector hands out the current one.
            LocalCertificate = Certificate,
            LocalClientCertificateSelector = (_, _, _, _, _) => Certificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = (certificate, chain, _) => Validate(certificate, chain, ServerPeerUsages, "silo"),
        };
    }

    private bool Validate(X509Certificate2 certificate, X509Chain? chain, IReadOnlyList<string> usages, string peerKind)
    {
        // The platform's verdict (SslPolicyErrors) is against the OS trust store, which has no say here; names are not
        // checked either: pod addresses change, and membership in the cluster is what the CA vouches for.
        if (IsTrustedPeer(certificate, chain, usages))
        {
            return true;
        }

        Logger.LogWarning("Refused an Orleans {PeerKind} certificate {Subject} issued by {Issuer}: not from the cluster's CA, expired, or not for this port",
            peerKind, certificate.Subject, certificate.Issuer);
        return false;
    }

    private Material Current()
    {
        var now = _clock.GetUtcNow();
        if (now < _nextCheck)
        {
            return _current;
        }

        lock (_lock)
        {
            if (now < _nextCheck)
            {
                return _current;
            }

            _nextCheck = now + RecheckInterval;
            var stamp = Material.Stamp(_settings);
            if (stamp == _current.FilesStamp)
            {
                return _current;
            }

            try
            {
                _current = Material.Read(_settings, _role, now);
                Logger.LogInformation("Reloaded the Orleans cluster certificate {Subject} (expires {NotAfter:u}) and {Authorities} CA certificate(s)",
                    _current.Certificate.Subject, _current.Certificate.NotAfter.ToUniversalTime(), _current.Authorities.Count);
            }
            catch (StartupConfigurationException ex)
            {
                Logger.LogError("The Orleans cluster certificate files changed but cannot be used; keeping the previous ones: {Reason}", ex.Message);
            }

            return _current;
        }
    }

    private static ILogger LoggerFrom(IServiceProvider services) =>
        (services.GetService(typeof(ILoggerFactory)) as ILoggerFactory)?.CreateLogger<ClusterCredentials>() ?? (ILogger)NullLogger.Instance;

    private static X509Chain NewChain(X509Certificate2Collection authorities, DateTimeOffset now)
    {
        var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        return chain;
    }

    /// <summary>A certificate without an Extended Key Usage extension allows every usage (RFC 5280).</summary>
    private static bool Allows(X509Certificate2 certificate, string usage)
    {
        var extensions = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().ToList();
        return extensions.Count == 0 || extensions.Any(e => e.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Any(o => o.Value == usage));
    }

    private sealed record Material(X509Certificate2 Certificate, X509Certificate2Collection Authorities, string FilesStamp)
    {
        public static string Stamp(ClusterTlsSettings settings) => string.Join('|',
            new[] { settings.CertificatePath, settings.KeyPath, settings.CaPath }
                .Where(p => !string.IsNullOrWhiteSpace(p))
                .Select(p => File.Exists(p) ? $"{File.GetLastWriteTimeUtc(p!).Ticks}:{new FileInfo(p!).Length}" : "missing"));

        public static Material Read(ClusterTlsSettings settings, ClusterRole role, DateTimeOffset now)
        {
            var certificatePath = settings.CertificatePath!;
            if (string.IsNullOrWhiteSpace(settings.CaPath))
            {
                throw Problem("Orleans:Tls:CaPath", "is required with Orleans:Tls:CertificatePath: the PEM bundle of the cluster's CA, which peers' certificates are checked against");
            }

            var stamp = Stamp(settings);
            var certificate = ReadCertificate(settings, certificatePath);
            if (!certificate.HasPrivateKey)
            {
                throw Problem("Orleans:Tls:CertificatePath", $"{certificatePath} has no private key: set Orleans:Tls:KeyPath to the key's file");
            }

            var authorities = new X509Certificate2Collection();
            try
            {
                authorities.ImportFromPemFile(settings.CaPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw Problem("Orleans:Tls:CaPath", $"{settings.CaPath} cannot be read: {ex.Message}");
            }

            if (authorities.Count == 0)
            {
                throw Problem("Orleans:Tls:CaPath", $"{settings.CaPath} holds no PEM certificate");
            }

            var needed = role == ClusterRole.Silo ? SiloUsages : ClientUsages;
            var missing = needed.Where(u => !Allows(certificate, u)).Select(u => u == ServerAuthentication ? "server" : "client").ToList();
            if (missing.Count > 0)
            {
                throw Problem("Orleans:Tls:CertificatePath",
                    $"{certificate.Subject} does not allow {string.Join(" and ", missing)} authentication, which a {(role == ClusterRole.Silo ? "silo" : "gateway")} needs" +
                    (role == ClusterRole.Silo ? " (a silo needs a silo certificate: scripts/cluster-certs.sh writes silo.crt)" : string.Empty));
            }

            if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime || certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
            {
                throw Problem("Orleans:Tls:CertificatePath", $"{certificate.Subject} is valid from {certificate.NotBefore.ToUniversalTime():u} to {certificate.NotAfter.ToUniversalTime():u}, not now");
            }

            using (var chain = NewChain(authorities, now))
            {
                if (!chain.Build(certificate))
                {
                    var status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
                    throw Problem("Orleans:Tls:CertificatePath",
                        $"{certificate.Subject} (issued by {certificate.Issuer}) does not chain to a CA in {settings.CaPath}, so peers would refuse it ({status})");
                }
            }

            return new Material(certificate, authorities, stamp);
        }

        private static X509Certificate2 ReadCertificate(ClusterTlsSettings settings, string path)
        {
            try
            {
                if (path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
                {
                    return X509CertificateLoader.LoadPkcs12FromFile(path, settings.CertificatePassword);
                }

                var keyPath = string.IsNullOrWhiteSpace(settings.KeyPath) ? null : settings.KeyPath;
                using var pem = string.IsNullOrEmpty(settings.CertificatePassword)
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, settings.CertificatePassword, keyPath);
                // A key read from PEM is ephemeral, which SslStream cannot use on every platform; a PKCS#12 round trip can.
                return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                var files = settings.KeyPath is { Length: > 0 } key ? $"{path} with the key {key}" : path;
                throw Problem("Orleans:Tls:CertificatePath", $"{files} cannot be read as a certificate and its key: {ex.Message}");
            }
        }

        private static StartupConfigurationException Problem(string setting, string what) =>
            new($"{setting} (env {setting.Replace(":", "__", StringComparison.Ordinal)}): {what}.");
    }
}
