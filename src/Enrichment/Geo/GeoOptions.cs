namespace InvexQr.Enrichment.Geo;

/// <summary>The <c>Geo</c> configuration section (env <c>Geo__DatabasePath</c>, <c>Geo__CacheSize</c>).</summary>
public sealed class GeoOptions
{
    public const string Section = "Geo";

    /// <summary>A GeoLite2/GeoIP2 City database (.mmdb). Relative paths are resolved from the working directory.</summary>
    public string DatabasePath { get; set; } = ".data/geo/GeoLite2-City.mmdb";

    /// <summary>
    /// Older than this (by the build date inside the file), the database makes <c>/health/ready</c> Degraded: MaxMind
    /// updates GeoLite2 twice a week and its licence asks for current data. 0 turns the check off.
    /// </summary>
    public int MaxAgeDays { get; set; } = 60;

    /// <summary>How many IPs' answers are kept in memory.</summary>
    public int CacheSize { get; set; } = 100_000;
}
