using InvexQr.Abstractions;

namespace InvexQr.Grains.Analytics;

/// <summary>The dimensions scans are broken down by in the rollups.</summary>
public static class Dimensions
{
    public const string Country = "country";
    public const string City = "city";
    public const string Device = "device";
    public const string Os = "os";
    public const string Browser = "browser";

    /// <summary>The routing rule or A/B variant that sent the scan (codes with routing only).</summary>
    public const string Route = "route";
}

/// <summary>Counts of one hour: every recorded scan is a human or a bot; repeats are human re-scans.</summary>
public sealed class HourCounts
{
    public long Scans { get; set; }

    public long Humans { get; set; }

    public long Bots { get; set; }

    public long Repeats { get; set; }

    public long Throttled { get; set; }

    /// <summary>When the latest recorded scan counted here was made (UTC ticks; 0: none).</summary>
    public long LastScanTicks { get; set; }

    public bool IsEmpty => Scans == 0 && Throttled == 0;

    public void Reset()
    {
        Scans = Humans = Bots = Repeats = Throttled = LastScanTicks = 0;
    }

    public void Add(HourCounts other)
    {
        Scans += other.Scans;
        Humans += other.Humans;
        Bots += other.Bots;
        Repeats += other.Repeats;
        Throttled += other.Throttled;
        LastScanTicks = Math.Max(LastScanTicks, other.LastScanTicks);
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

/// <summary>What one recorded scan adds to its code's rollups.</summary>
/// <param name="VisitorHash">The day's keyed hash of the visitor; null when they asked not to be tracked.</param>
public readonly record struct ScanFacts(
    DateTimeOffset At, bool IsBot, bool IsRepeat, GeoLocation? Location, ClientInfo? Client, ulong? VisitorHash, string? Route = null);

/// <summary>A unique-visitor register of a code's UTC day raised to <paramref name="Rank"/> (merged by maximum).</summary>
public readonly record struct VisitorRegister(DateOnly Day, short Register, byte Rank);

/// <summary>
/// What one code counted since its counters were last taken: additive hour deltas, and the unique-visitor registers
/// raised meanwhile. Both merge with what is stored (sums, maxima), so they may be written by any silo in any order.
/// </summary>
public sealed record RollupDelta(long CodeId, IReadOnlyList<HourDelta> Hours, IReadOnlyList<VisitorRegister> Registers);

/// <summary>
/// The silo-local rollup counter: a code grain tells it what each scan adds, and it aggregates and writes batches.
/// Memory only, never blocks: the scan path pays a dictionary update.
/// </summary>
public interface IRollupSink
{
    /// <summary>Counts a recorded scan of <paramref name="codeId"/>.</summary>
    void Count(long codeId, in ScanFacts scan);

    /// <summary>Counts a scan of <paramref name="codeId"/> that its throttle refused (counted, not recorded).</summary>
    void CountThrottled(long codeId, DateTimeOffset at);

    /// <summary>Scans of <paramref name="codeId"/> counted here and not yet written (added to its stored total on activation).</summary>
    long UnwrittenScans(long codeId);
}

/// <summary>Where the rollup sink writes its batches (PostgreSQL: <c>RollupRepository</c>).</summary>
public interface IRollupStore
{
    /// <summary>
    /// Merges one batch into the stored rollups: counters added, registers raised. A batch whose id was written before
    /// is skipped (false), so a batch written again after a lost answer is counted once.
    /// </summary>
    Task<bool> WriteAsync(
        Guid flushId,
        IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours,
        IReadOnlyCollection<(long CodeId, VisitorRegister Register)> registers,
        CancellationToken cancellationToken);
}
