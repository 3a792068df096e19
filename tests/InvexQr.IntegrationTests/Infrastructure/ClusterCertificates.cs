using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A throwaway cluster CA with a silo and a gateway certificate, as scripts/cluster-certs.sh makes them (EC P-256; silo:
/// server + client authentication, gateway: client only), written as PEM files to a temporary directory once per test
/// run, so every silo and gateway the tests start runs the cluster's mutual TLS. <see cref="Foreign"/> is a second,
/// unrelated CA with the same certificates: what an outsider could make for themselves.
/// </summary>
public sealed class ClusterCertificates
{
    private static readonly Lazy<ClusterCertificates> Shared = new(() => Create("cluster"));
    private static readonly Lazy<ClusterCertificates> SharedForeign = new(() => Create("foreign"));

    private ClusterCertificates(string directory) => Directory = directory;

    /// <summary>The CA every test deployment trusts.</summary>
    public static ClusterCertificates Cluster => Shared.Value;

    /// <summary>Another CA, which no test deployment trusts.</summary>
    public static ClusterCertificates Foreign => SharedForeign.Value;

    public string Directory { get; }

    public string CaPath => Path.Combine(Directory, "ca.crt");

    /// <summary>The settings of a silo (or a gateway that co-hosts one), keys as in appsettings (<c>Orleans:Tls:…</c>).</summary>
    public Dictionary<string, string> SiloSettings() => Settings("silo");

    /// <summary>The settings of a gateway that is an Orleans client.</summary>
    public Dictionary<string, string> GatewaySettings() => Settings("gateway");

    /// <summary>The same settings as environment variables (<c>Orleans__Tls__…</c>).</summary>
    public static Dictionary<string, string> AsEnvironment(Dictionary<string, string> settings) =>
        settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);

    /// <summary>A node certificate with its key, loaded as the processes load it.</summary>
    public X509Certificate2 Load(string node) =>
        X509Certificate2.CreateFromPemFile(Path.Combine(Directory, node + ".crt"), Path.Combine(Directory, node + ".key"));

    private Dictionary<string, string> Settings(string node) => new()
    {
        ["Orleans:Tls:CertificatePath"] = Path.Combine(Directory, node + ".crt"),
        ["Orleans:Tls:KeyPath"] = Path.Combine(Directory, node + ".key"),
        ["Orleans:Tls:CaPath"] = CaPath,
    };

    private static ClusterCertificates Create(string name)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"invexqr-test-tls-{name}-{Guid.NewGuid().ToString("N")[..8]}");
        System.IO.Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };

        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"O=InvexQR tests, CN=test {name} CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        File.WriteAllText(Path.Combine(directory, "ca.crt"), ca.ExportCertificatePem());

        Issue(directory, ca, "silo", now, "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        Issue(directory, ca, "gateway", now, "1.3.6.1.5.5.7.3.2");
        return new ClusterCertificates(directory);
    }

    private static void Issue(string directory, X509Certificate2 ca, string node, DateTimeOffset now, params string[] usages)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"O=InvexQR tests, CN=invexqr-{node}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var oids = new OidCollection();
        foreach (var usage in usages)
        {
            oids.Add(new Oid(usage));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("invexqr-" + node);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.Create(ca, now.AddHours(-1), now.AddDays(7), RandomNumberGenerator.GetBytes(16));
        File.WriteAllText(Path.Combine(directory, node + ".crt"), certificate.ExportCertificatePem());
        var keyPath = Path.Combine(directory, node + ".key");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
