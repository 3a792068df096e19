using Microsoft.Extensions.Configuration;

namespace InvexQr.ServiceDefaults;

/// <summary>
/// The Orleans cluster identity and ports, from the <c>Orleans</c> configuration section
/// (env <c>Orleans__ClusterId</c>, <c>Orleans__ServiceId</c>, <c>Orleans__SiloPort</c>, ...).
/// Silos and gateways of one deployment must agree on ClusterId and ServiceId.
/// </summary>
public sealed class ClusterSettings
{
    public const string Section = "Orleans";

    public string ClusterId { get; set; } = "invexqr";

    public string ServiceId { get; set; } = "invexqr";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos and clients use to reach this silo (the pod IP on Kubernetes).</summary>
    public string AdvertisedIP { get; set; } = "127.0.0.1";

    /// <summary>
    /// Listen on every address instead of the advertised one only. Off by default: the advertised address is the one
    /// peers use (the pod IP on Kubernetes). Needed only where the advertised address is not local (behind NAT).
    /// </summary>
    public bool ListenOnAnyAddress { get; set; }

    /// <summary>Silo name; defaults to the machine name (POD_NAME on Kubernetes).</summary>
    public string? SiloName { get; set; }

    /// <summary>Copies the cluster identity into Orleans' options.</summary>
    public void ApplyTo(Orleans.Configuration.ClusterOptions options)
    {
        options.ClusterId = ClusterId;
        options.ServiceId = ServiceId;
    }

    public static ClusterSettings From(IConfiguration configuration)
    {
        var settings = new ClusterSettings();
        configuration.GetSection(Section).Bind(settings);
        return settings;
    }
}
