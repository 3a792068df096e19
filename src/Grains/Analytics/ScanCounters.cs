namespace InvexQr.Grains.Analytics;

/// <summary>
/// One code's streaming counters in the silo's rollup sink: per UTC hour the totals and the breakdown by country,
/// city, device, OS and browser, and per UTC day the unique-visitor registers raised since they were last taken.
/// Only what changed since the last <see cref="TakeDelta"/> is held, so memory stays small however long the code is
/// scanned. Not thread-safe: the sink guards it.
/// </summary>
public sealed class ScanCounters
{
    private const string Unknown = "unknown";

    // The hours counted into; an hour's objects are reused from one take to the next (HourDelta.TakeSnapshot)
    // and dropped once a take finds nothing new in them.
    private readonly Dictionary<DateTimeOffset, HourDelta> _hours = [];
    private readonly Dictionary<DateOnly, DayRegisters> _days = [];
    private bool _counted; // anything counted since the last take

    public void RecordScan(in ScanFacts scan)
    {
        _counted = true;
        var hour = HourOf(scan.At);
        var counts = hour.Counts;
        counts.Scans++;
        counts.LastScanTicks = Math.Max(counts.LastScanTicks, scan.At.UtcTicks);
        if (scan.IsBot)
        {
            counts.Bots++;
        }
        else
        {
            counts.Humans++;
            if (scan.IsRepeat)
            {
                counts.Repeats++;
            }
        }

        var location = scan.Location;
        hour.Count(new DimKey(Dimensions.Country, location?.CountryCode ?? Unknown), 1);
        if (location?.City is { } city)
        {
            hour.Count(new DimKey(Dimensions.City, $"{location.CountryCode}|{city}"), 1, location.Latitude, location.Longitude);
        }

        hour.Count(new DimKey(Dimensions.Device, scan.Client?.DeviceType ?? Unknown), 1);
        hour.Count(new DimKey(Dimensions.Os, scan.Client?.Os ?? Unknown), 1);
        hour.Count(new DimKey(Dimensions.Browser, scan.Client?.Browser ?? Unknown), 1);
        if (scan.Route is { } route)
        {
            hour.Count(new DimKey(Dimensions.Route, route), 1);
        }

        // Bots are not visitors; the registers count people.
        if (scan.VisitorHash is { } hash && !scan.IsBot)
        {
            var day = DateOnly.FromDateTime(scan.At.UtcDateTime);
            if (!_days.TryGetValue(day, out var registers))
            {
                _days[day] = registers = new DayRegisters();
            }

            registers.Add(hash);
        }
    }

    public void RecordThrottled(DateTimeOffset at)
    {
        _counted = true;
        HourOf(at).Counts.Throttled++;
    }

    /// <summary>Recorded scans counted since the last take.</summary>
    public long UntakenScans
    {
        get
        {
            long scans = 0;
            foreach (var hour in _hours.Values)
            {
                scans += hour.Counts.Scans;
            }

            return scans;
        }
    }

    /// <summary>True when nothing was counted since the last take and nothing is held for later: the sink may drop this object.</summary>
    public bool IsIdle => !_counted && _hours.Count == 0 && _days.Values.All(d => !d.HasPending);

    /// <summary>Everything counted since the last call; null when nothing was.</summary>
    public RollupDelta? TakeDelta(long codeId, DateOnly today)
    {
        var hasRegisters = false;
        foreach (var day in _days.Values)
        {
            hasRegisters |= day.HasPending;
        }

        if (!_counted && !hasRegisters)
        {
            _hours.Clear(); // nothing since the last take: an idle code keeps no counting objects
            DropOldDays(today);
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
        var registers = new List<VisitorRegister>();
        foreach (var (day, pending) in _days)
        {
            pending.TakePending(day, registers);
        }

        DropOldDays(today);
        return new RollupDelta(codeId, hours, registers);
    }

    // Days before yesterday will not get new scans: forget which of their registers were written.
    private void DropOldDays(DateOnly today)
    {
        foreach (var day in _days.Keys)
        {
            if (day < today.AddDays(-1))
            {
                _days.Remove(day);
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

    /// <summary>
    /// One day's unique-visitor registers: the highest rank known per register (so a returning visitor is not written
    /// again) and those raised since the last take. Sparse while few registers are set, 2 KB once many are.
    /// </summary>
    private sealed class DayRegisters
    {
        private const int SparseLimit = 128;
        private Dictionary<short, byte>? _sparse = [];
        private byte[]? _dense;
        private readonly List<(short Register, byte Rank)> _pending = [];

        public bool HasPending => _pending.Count > 0;

        public void Add(ulong hash)
        {
            var (index, rank) = HyperLogLog.Locate(hash);
            var register = (short)index;
            if (rank <= Known(register))
            {
                return;
            }

            if (_dense is not null)
            {
                _dense[register] = rank;
            }
            else if (_sparse!.Count < SparseLimit || _sparse.ContainsKey(register))
            {
                _sparse[register] = rank;
            }
            else
            {
                _dense = new byte[HyperLogLog.RegisterCount];
                foreach (var (r, k) in _sparse)
                {
                    _dense[r] = k;
                }

                _dense[register] = rank;
                _sparse = null;
            }

            _pending.Add((register, rank));
        }

        public void TakePending(DateOnly day, List<VisitorRegister> into)
        {
            foreach (var (register, rank) in _pending)
            {
                // A register raised twice since the last take: only its highest rank goes out.
                if (rank == Known(register))
                {
                    into.Add(new VisitorRegister(day, register, rank));
                }
            }

            _pending.Clear();
        }

        private byte Known(short register) =>
            _dense is not null ? _dense[register] : _sparse!.GetValueOrDefault(register);
    }
}
