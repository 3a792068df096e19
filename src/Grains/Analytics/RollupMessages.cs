namespace InvexQr.Grains.Analytics;

/// <summary>The dimensions scans are broken down by in the rollups.</summary>
public static class Dimensions
{
    public const string Country = "country";
    public const string City = "city";
    public const string Device = "device";
    public const string Os = "os";
    public const string Browser = "browser";
}

/// <summary>Counts of one hour: every recorded scan is a human or a bot; repeats are human re-scans.</summary>
public sealed class HourCounts
{
    public long Scans { get; set; }

    public long Humans { get; set; }

    public long Bots { get; set; }

    public long Repeats { get; set; }

    public long Throttled { get; set; }

    public bool IsEmpty => Scans == 0 && Throttled == 0;

    public void Reset()
    {
        Scans = Humans = Bots = Repeats = Throttled = 0;
    }

    public void Add(HourCounts other)
    {
        Scans += other.Scans;
        Humans += other.Humans;
        Bots += other.Bots;
        Repeats += other.Repeats;
        Throttled += other.Throttled;
    }
}

/// <summary>One value of one dimension within an hour; cities carry their coordinates.</summary>
public readonly record struct DimKey(string Dim, string Value);

public sealed class DimCount
{
    public long Scans { get; set; }

    public double? Latitude { get; set; }

    public double? Longitude { get; set; }
}

/// <summary>What one code counted in one UTC hour since its last hand-off.</summary>
public sealed class HourDelta(DateTimeOffset hour)
{
    public DateTimeOffset Hour { get; } = hour;

    public HourCounts Counts { get; } = new();

    public Dictionary<DimKey, DimCount> Dims { get; } = [];

    public void Add(HourDelta other)
    {
        Counts.Add(other.Counts);
        foreach (var (key, count) in other.Dims)
        {
            Count(key, count.Scans, count.Latitude, count.Longitude);
        }
    }

    /// <summary>
    /// A copy of what was counted, for the rollup sink, and this object back to zero. The counting objects stay
    /// and are reused for the next scans (a silo's collections then have little to promote: re-created after
    /// every flush, 10,000 codes' counters each lived 2–5 s); the copy lives only until the sink has written it.
    /// Dimension values counted before stay as zero entries until the hour is dropped.
    /// </summary>
    public HourDelta TakeSnapshot()
    {
        var copy = new HourDelta(Hour);
        copy.Counts.Add(Counts);
        Counts.Reset();
        foreach (var (key, count) in Dims)
        {
            if (count.Scans != 0)
            {
                copy.Count(key, count.Scans, count.Latitude, count.Longitude);
                count.Scans = 0;
            }
        }

        return copy;
    }

    public void Count(DimKey key, long scans, double? latitude = null, double? longitude = null)
    {
        if (!Dims.TryGetValue(key, out var existing))
        {
            Dims[key] = existing = new DimCount();
        }

        existing.Scans += scans;
        existing.Latitude ??= latitude;
        existing.Longitude ??= longitude;
    }
}

/// <summary>
/// A code's counters handed from its grain to the silo's rollup sink: additive hour deltas, and the
/// day's whole unique-visitor sketch (sketches are written whole, the newest wins).
/// </summary>
public sealed record RollupDelta(long CodeId, IReadOnlyList<HourDelta> Hours, IReadOnlyDictionary<DateOnly, byte[]> Sketches);

/// <summary>The silo-local writer of rollups: batches deltas of all codes into few database writes.</summary>
public interface IRollupSink
{
    /// <summary>Queues a delta (memory only, never blocks). Merged with other pending deltas of the same keys.</summary>
    void Submit(RollupDelta delta);

    /// <summary>
    /// The sink takes what <paramref name="counters"/> counted each time it flushes, so that an active code needs
    /// no timer of its own for its rollups. Until <see cref="Untrack"/>.
    /// </summary>
    void Track(long codeId, ScanCounters counters);

    /// <summary>Stops taking from <paramref name="counters"/> (whatever is left in them stays there).</summary>
    void Untrack(long codeId, ScanCounters counters);

    /// <summary>The stored unique-visitor sketch of a code's day, so a grain that activates mid-day keeps counting into it.</summary>
    Task<HyperLogLog?> LoadSketchAsync(long codeId, DateOnly day, CancellationToken cancellationToken = default);
}
