using InvexQr.Enrichment.Caching;
using InvexQr.Abstractions;
using System.Net;
using System.Net.Sockets;
using MaxMind.GeoIP2;
using MaxMind.GeoIP2.Exceptions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InvexQr.Enrichment.Geo;

/// <summary>
/// Geolocation from a local MaxMind City database, behind an LRU cache by address. Never calls a
/// network service. Private, loopback, link-local and unknown addresses are "unknown", not errors.
/// A missing or unreadable database is tolerated: every answer is unknown and
/// <see cref="Problem"/> says why (logged once at start-up and shown in health details).
/// </summary>
public sealed class GeoLocator : IDisposable
{
    private readonly DatabaseReader? _reader;
    private readonly LruCache<IPAddress, GeoLocation> _cache;

    public GeoLocator(IOptions<GeoOptions> options, ILogger<GeoLocator> logger)
    {
        var path = Path.GetFullPath(options.Value.DatabasePath);
        _cache = new LruCache<IPAddress, GeoLocation>(Math.Max(1, options.Value.CacheSize));
        try
        {
            // Memory-mapped: the OS pages the file in, nothing is copied per process.
            _reader = new DatabaseReader(path, MaxMind.Db.FileAccessMode.MemoryMapped);
            DatabaseInfo = $"{_reader.Metadata.DatabaseType} built {_reader.Metadata.BuildDate:yyyy-MM-dd} ({path})";
            logger.LogInformation("Geolocation database: {Database}", DatabaseInfo);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or MaxMind.Db.InvalidDatabaseException or ArgumentException)
        {
            Problem = $"Geolocation database not usable at {path}: {ex.Message}. Scans are stored with unknown location.";
            logger.LogWarning("{Problem}", Problem);
        }
    }

    /// <summary>Why locations are unknown, or null when the database is loaded.</summary>
    public string? Problem { get; }

    public string? DatabaseInfo { get; }

    public LruCache<IPAddress, GeoLocation> Cache => _cache;

    public GeoLocation Locate(IPAddress? address)
    {
        if (address is null || _reader is null)
        {
            return GeoLocation.Unknown;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IsPublic(address) ? _cache.GetOrAdd(address, Lookup) : GeoLocation.Unknown;
    }

    public void Dispose() => _reader?.Dispose();

    private GeoLocation Lookup(IPAddress address)
    {
        try
        {
            if (!_reader!.TryCity(address, out var city) || city is null)
            {
                return GeoLocation.Unknown;
            }

            return new GeoLocation(
                city.Country.IsoCode,
                city.Country.Name,
                city.MostSpecificSubdivision.Name,
                city.City.Name,
                city.Location.Latitude,
                city.Location.Longitude);
        }
        catch (Exception ex) when (ex is GeoIP2Exception or MaxMind.Db.InvalidDatabaseException)
        {
            return GeoLocation.Unknown;
        }
    }

    /// <summary>Addresses that can be located: not private, loopback, link-local, multicast or reserved.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return false;
        }

        var b = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return !(b[0] == 10
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) // carrier-grade NAT
                || b[0] == 0 || b[0] >= 224);
        }

        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
            || (b[0] & 0xFE) == 0xFC); // unique local fc00::/7
    }
}
