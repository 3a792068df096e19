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
/// <see cref="Problem"/> says why (logged, and shown in health details). The file is watched: a new
/// database put in its place (written beside it, then renamed over it, as geoipupdate does) is loaded
/// without a restart, and the cache is emptied.
/// </summary>
public sealed class GeoLocator : IDisposable
{
    private readonly string _path;
    private readonly ILogger<GeoLocator> _logger;
    private readonly LruCache<IPAddress, GeoLocation> _cache;
    private readonly FileSystemWatcher? _watcher;
    private readonly Timer _reloadTimer;
    private readonly Lock _reloadLock = new();
    private volatile Loaded _loaded;

    private sealed record Loaded(DatabaseReader? Reader, string? Problem, string? Info, DateTimeOffset? BuildDate);

    public GeoLocator(IOptions<GeoOptions> options, ILogger<GeoLocator> logger)
    {
        _path = Path.GetFullPath(options.Value.DatabasePath);
        _logger = logger;
        _cache = new LruCache<IPAddress, GeoLocation>(Math.Max(1, options.Value.CacheSize));
        _loaded = Open();
        _reloadTimer = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        var directory = Path.GetDirectoryName(_path);
        if (directory is not null && Directory.Exists(directory))
        {
            _watcher = new FileSystemWatcher(directory, Path.GetFileName(_path))
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            // Several events arrive for one replacement: reload once they have settled.
            FileSystemEventHandler changed = (_, _) => _reloadTimer.Change(TimeSpan.FromMilliseconds(500), Timeout.InfiniteTimeSpan);
            _watcher.Changed += changed;
            _watcher.Created += changed;
            _watcher.Renamed += (_, _) => _reloadTimer.Change(TimeSpan.FromMilliseconds(500), Timeout.InfiniteTimeSpan);
            _watcher.EnableRaisingEvents = true;
        }
    }

    /// <summary>Why locations are unknown, or null when the database is loaded.</summary>
    public string? Problem => _loaded.Problem;

    public string? DatabaseInfo => _loaded.Info;

    /// <summary>When MaxMind built the loaded database (its metadata), or null when none is loaded.</summary>
    public DateTimeOffset? BuildDate => _loaded.BuildDate;

    /// <summary>Raised after a reload attempt (a new database, or the reason it was not usable).</summary>
    public event Action? Reloaded;

    public LruCache<IPAddress, GeoLocation> Cache => _cache;

    /// <summary>Loads the file again now (the watcher does this on its own after a change).</summary>
    public void Reload()
    {
        lock (_reloadLock)
        {
            var previous = _loaded;
            var next = Open();
            if (next.Reader is null && previous.Reader is not null)
            {
                // A half-copied or removed file: keep answering from the database we have.
                _logger.LogWarning("Geolocation database not reloaded, the loaded one stays: {Problem}", next.Problem);
            }
            else
            {
                _loaded = next;
                _cache.Clear();
                // Lookups in flight may still read the old one: it is closed a little later, not under them.
                _ = Task.Delay(TimeSpan.FromSeconds(10)).ContinueWith(_ => previous.Reader?.Dispose(), TaskScheduler.Default);
            }
        }

        Reloaded?.Invoke();
    }

    public GeoLocation Locate(IPAddress? address)
    {
        if (address is null || _loaded.Reader is null)
        {
            return GeoLocation.Unknown;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IsPublic(address) ? _cache.GetOrAdd(address, Lookup) : GeoLocation.Unknown;
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _reloadTimer.Dispose();
        _loaded.Reader?.Dispose();
    }

    private Loaded Open()
    {
        try
        {
            // Memory-mapped: the OS pages the file in, nothing is copied per process. A file renamed over this
            // path later leaves this mapping on the old file intact.
            var reader = new DatabaseReader(_path, MaxMind.Db.FileAccessMode.MemoryMapped);
            var built = new DateTimeOffset(DateTime.SpecifyKind(reader.Metadata.BuildDate, DateTimeKind.Utc));
            var info = $"{reader.Metadata.DatabaseType} built {built:yyyy-MM-dd} ({_path})";
            _logger.LogInformation("Geolocation database: {Database}", info);
            return new Loaded(reader, null, info, built);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or MaxMind.Db.InvalidDatabaseException or ArgumentException)
        {
            var problem = $"Geolocation database not usable at {_path}: {ex.Message}. Scans are stored with unknown location.";
            _logger.LogWarning("{Problem}", problem);
            return new Loaded(null, problem, null, null);
        }
    }

    private GeoLocation Lookup(IPAddress address)
    {
        try
        {
            if (_loaded.Reader is not { } reader || !reader.TryCity(address, out var city) || city is null)
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
