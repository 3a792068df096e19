namespace InvexQr.Grains.Protection;

/// <summary>
/// What one code grain remembers per client address, in memory only: a token bucket (throttling) and
/// the time of its last recorded scan (repeat detection). Bounded: at most <c>capacity</c> addresses,
/// least recently seen evicted first, so 100,000 distinct addresses cost the same as 10,000. An evicted
/// address comes back with a full bucket, which only ever errs toward serving the scan.
/// Not thread-safe: owned by one grain activation (whose turns never run in parallel).
/// </summary>
public sealed class ClientTracker(int capacity)
{
    private sealed class Entry(string address)
    {
        public string Address { get; } = address;

        public double Tokens;
        public long RefilledAt;
        public long LastScanAt = long.MinValue;
    }

    private readonly Dictionary<string, LinkedListNode<Entry>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _order = new();

    public int Count => _map.Count;

    /// <summary>
    /// Takes one token for <paramref name="address"/> at <paramref name="nowTicks"/> (UTC ticks). False
    /// when the bucket is empty; <paramref name="retryAfter"/> is then the wait for the next token.
    /// </summary>
    public bool TryTake(string address, long nowTicks, int burst, int perMinute, out TimeSpan retryAfter)
    {
        var entry = Touch(address, nowTicks, burst);
        var ticksPerToken = TimeSpan.TicksPerMinute / (double)perMinute;
        var elapsed = nowTicks - entry.RefilledAt;
        if (elapsed > 0)
        {
            entry.Tokens = Math.Min(burst, entry.Tokens + (elapsed / ticksPerToken));
            entry.RefilledAt = nowTicks;
        }

        if (entry.Tokens >= 1)
        {
            entry.Tokens -= 1;
            retryAfter = TimeSpan.Zero;
            return true;
        }

        retryAfter = TimeSpan.FromTicks((long)Math.Ceiling((1 - entry.Tokens) * ticksPerToken));
        return false;
    }

    /// <summary>Notes a recorded scan; true when the same address had one within <paramref name="window"/>.</summary>
    public bool MarkScanned(string address, long nowTicks, TimeSpan window)
    {
        var entry = Touch(address, nowTicks, burst: 0);
        var repeat = entry.LastScanAt != long.MinValue && nowTicks - entry.LastScanAt < window.Ticks;
        entry.LastScanAt = nowTicks;
        return repeat;
    }

    private Entry Touch(string address, long nowTicks, int burst)
    {
        if (_map.TryGetValue(address, out var node))
        {
            if (node != _order.First)
            {
                _order.Remove(node);
                _order.AddFirst(node);
            }

            return node.Value;
        }

        var entry = new Entry(address) { Tokens = burst, RefilledAt = nowTicks };
        _map[address] = _order.AddFirst(entry);
        if (_map.Count > capacity)
        {
            var last = _order.Last!;
            _order.RemoveLast();
            _map.Remove(last.Value.Address);
        }

        return entry;
    }
}
