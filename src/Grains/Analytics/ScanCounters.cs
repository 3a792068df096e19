using InvexQr.Grains.Enrichment;
using InvexQr.Grains.Enrichment.Geo;

namespace InvexQr.Grains.Analytics;

/// <summary>
/// A code grain's streaming counters: per UTC hour the totals and the breakdown by country, city,
/// device, OS and browser, plus one unique-visitor sketch per UTC day. Only what changed since the
/// last <see cref="TakeDelta"/> is held, so memory stays small however long the grain lives.
/// Written by its grain, and emptied by the silo's rollup sink when it flushes (<see cref="IRollupSink.Track"/>):
/// every member takes a lock, which nobody else holds in the common case.
/// </summary>
public sealed class ScanCounters
{
    private const string Unknown = "unknown";
    private static readonly IReadOnlyDictionary<DateOnly, byte[]> NoSketches = new Dictionary<DateOnly, byte[]>();

    // The hours counted into; an hour's objects are reused from one hand-over to the next (HourDelta.TakeSnapshot)
    // and dropped once a hand-over finds nothing new in them.
    private readonly Dictionary<DateTimeOffset, HourDelta> _hours = [];
    private bool _counted; // anything counted since the last TakeDelta
    private readonly Dictionary<DateOnly, HyperLogLog> _sketches = [];
    private readonly HashSet<DateOnly> _dirtySketches = [];
    private readonly Lock _gate = new();

    /// <summary>Seeds the sketch of a day with what was stored before this activation.</summary>
    public void SeedSketch(DateOnly day, HyperLogLog stored)
    {
        lock (_gate)
        {
            if (_sketches.TryGetValue(day, out var current))
            {
                current.Merge(stored);
            }
            else
            {
                _sketches[day] = stored;
            }
        }
    }

    public void RecordScan(DateTimeOffset at, bool isBot, bool isRepeat, GeoLocation? location, ClientInfo? client, ulong? visitorHash)
    {
        lock (_gate)
        {
            _counted = true;
            var hour = HourOf(at);
            var counts = hour.Counts;
            counts.Scans++;
            if (isBot)
            {
                counts.Bots++;
            }
            else
            {
                counts.Humans++;
                if (isRepeat)
                {
                    counts.Repeats++;
                }
            }

            hour.Count(new DimKey(Dimensions.Country, location?.CountryCode ?? Unknown), 1);
            if (location?.City is { } city)
            {
                hour.Count(new DimKey(Dimensions.City, $"{location.CountryCode}|{city}"), 1, location.Latitude, location.Longitude);
            }

            hour.Count(new DimKey(Dimensions.Device, client?.DeviceType ?? Unknown), 1);
            hour.Count(new DimKey(Dimensions.Os, client?.Os ?? Unknown), 1);
            hour.Count(new DimKey(Dimensions.Browser, client?.Browser ?? Unknown), 1);

            // Bots are not visitors; the sketch counts people.
            if (visitorHash is { } hash && !isBot)
            {
                var day = DateOnly.FromDateTime(at.UtcDateTime);
                if (!_sketches.TryGetValue(day, out var sketch))
                {
                    _sketches[day] = sketch = new HyperLogLog();
                }

                if (sketch.Add(hash))
                {
                    _dirtySketches.Add(day);
                }
            }
        }
    }

    public void RecordThrottled(DateTimeOffset at)
    {
        lock (_gate)
        {
            _counted = true;
            HourOf(at).Counts.Throttled++;
        }
    }

    /// <summary>Whether a unique-visitor sketch changed since it was last handed over.</summary>
    public bool HasDirtySketch
    {
        get
        {
            lock (_gate)
            {
                return _dirtySketches.Count > 0;
            }
        }
    }

    /// <summary>
    /// Hands over everything counted since the last call; null when nothing was. Without <paramref name="withSketches"/>
    /// the changed sketches stay here, still marked changed, for a later call (the rollup sink spreads them out).
    /// </summary>
    public RollupDelta? TakeDelta(long codeId, DateOnly today, bool withSketches = true)
    {
        lock (_gate)
        {
            if (!_counted && (!withSketches || _dirtySketches.Count == 0))
            {
                _hours.Clear(); // nothing since the last hand-over: an idle code keeps no counting objects
                return null;
            }

            var hours = new List<HourDelta>(_hours.Count);
            foreach (var (start, hour) in _hours)
            {
                if (hour.Counts.IsEmpty)
                {
                    _hours.Remove(start); // nothing new in it (a past hour): let it go (removing while enumerating is allowed)
                }
                else
                {
                    hours.Add(hour.TakeSnapshot());
                }
            }

            _counted = false;
            IReadOnlyDictionary<DateOnly, byte[]> sketches = NoSketches;
            if (withSketches && _dirtySketches.Count > 0)
            {
                sketches = _dirtySketches.ToDictionary(day => day, day => _sketches[day].ToBytes());
                _dirtySketches.Clear();
            }

            // Days before yesterday will not get new scans: drop their sketches once they are handed over.
            foreach (var day in _sketches.Keys.Where(d => d < today.AddDays(-1) && !_dirtySketches.Contains(d)).ToList())
            {
                _sketches.Remove(day);
            }

            return new RollupDelta(codeId, hours, sketches);
        }
    }

    /// <summary>Puts back a delta whose hand-off failed, so nothing counted is lost.</summary>
    public void Restore(RollupDelta delta)
    {
        lock (_gate)
        {
            foreach (var hour in delta.Hours)
            {
                HourOf(hour.Hour).Add(hour);
            }

            _counted |= delta.Hours.Count > 0;

            foreach (var day in delta.Sketches.Keys)
            {
                _dirtySketches.Add(day);
            }
        }
    }

    private HourDelta HourOf(DateTimeOffset at)
    {
        var ticks = at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerHour);
        var hour = new DateTimeOffset(ticks, TimeSpan.Zero);
        if (!_hours.TryGetValue(hour, out var delta))
        {
            _hours[hour] = delta = new HourDelta(hour);
        }

        return delta;
    }
}
