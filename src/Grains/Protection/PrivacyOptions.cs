namespace InvexQr.Grains.Protection;

/// <summary>How a scanning client's address is stored in <c>qr_scans.ip_address</c>.</summary>
public enum IpStorageMode
{
    /// <summary>IPv4 /24, IPv6 /48 (the default).</summary>
    Truncate,

    /// <summary>A keyed hash under the day's salt: same address same day → same value; unlinkable once the salt is deleted.</summary>
    Hash,

    /// <summary>The full address (only where the operator has a legal basis for it).</summary>
    None,

    /// <summary>Nothing.</summary>
    Drop,
}

/// <summary>Configuration section <c>Privacy</c>.</summary>
public sealed class PrivacyOptions
{
    public IpStorageMode IpMode { get; set; } = IpStorageMode.Truncate;

    /// <summary>
    /// Honour <c>Sec-GPC: 1</c> and <c>DNT: 1</c>: the scan is recorded with its country only — no
    /// address, city, coordinates or visitor hash.
    /// </summary>
    public bool HonorDoNotTrack { get; set; } = true;

    /// <summary>Raw scans older than this many days are dropped (whole monthly partitions); 0 keeps them forever. Rollups are kept.</summary>
    public int RetentionDays { get; set; } = 0;
}
