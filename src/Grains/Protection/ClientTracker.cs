using System.Buffers.Binary;
using System.Net;

namespace InvexQr.Grains.Protection;

/// <summary>
/// What one code grain remembers per client address, in memory only: a token bucket (throttling) and
/// the time of its last recorded scan (repeat detection). Bounded: at most <c>capacity</c> addresses,
/// least recently seen evicted first, so 100,000 distinct addresses cost the same as 10,000. An evicted
/// address comes back with a full bucket, which only ever errs toward serving the scan.
/// An address whose bucket is full again and whose last scan is older than the repeat window carries no
/// information: it is forgotten as soon as it reaches the end of the recency list, so memory follows the
/// addresses of the last repeat window, not every address ever seen.
/// Entries are structs in arrays keyed by the address's 128-bit value: no object per address, nothing for
/// the garbage collector to trace (with one object per address, a silo serving a real audience promoted
/// several MB a second of them, and its collections paused for hundreds of ms).
/// Not thread-safe: owned by one grain activation (whose turns never run in parallel).
/// </summary>
public sealed class ClientTracker(int capacity)
{
    private const int None = -1;

    private readonly int _capacity = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), "At least one address.");

    private struct Slot
    {
        public UInt128 Key;
        public double Tokens;
        public long RefilledAt;
        public long LastScanAt;
        public long ForgetAfter; // from then on the entry says nothing a fresh one would not
        public int Newer;
        public int Older;
    }

    private readonly Dictionary<UInt128, int> _index = [];
    private Slot[] _slots = [];
    private int _used;          // slots ever handed out; freed ones are chained through Older from _free
    private int _free = None;
    private int _newest = None;
    private int _oldest = None;

    public int Count => _index.Count;

    /// <summary>
    /// Takes one token for <paramref name="address"/> at <paramref name="nowTicks"/> (UTC ticks). False
    /// when the bucket is empty; <paramref name="retryAfter"/> is then the wait for the next token.
    /// </summary>
    public bool TryTake(string address, long nowTicks, int burst, int perMinute, out TimeSpan retryAfter) =>
        TryTake(KeyOf(address), nowTicks, burst, perMinute, out retryAfter);

    /// <inheritdoc cref="TryTake(string, long, int, int, out TimeSpan)"/>
    public bool TryTake(UInt128 key, long nowTicks, int burst, int perMinute, out TimeSpan retryAfter)
    {
        ref var entry = ref Touch(key, nowTicks, burst);
        var ticksPerToken = TimeSpan.TicksPerMinute / (double)perMinute;
        var elapsed = nowTicks - entry.RefilledAt;
        if (elapsed > 0)
        {
            entry.Tokens = Math.Min(burst, entry.Tokens + (elapsed / ticksPerToken));
            entry.RefilledAt = nowTicks;
        }

        var served = entry.Tokens >= 1;
        if (served)
        {
            entry.Tokens -= 1;
        }

        var fullAgainAt = nowTicks + (long)Math.Ceiling(Math.Max(0, burst - entry.Tokens) * ticksPerToken);
        entry.ForgetAfter = Math.Max(entry.ForgetAfter, fullAgainAt);
        retryAfter = served ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Ceiling((1 - entry.Tokens) * ticksPerToken));
        return served;
    }

    /// <summary>True when <paramref name="key"/>'s bucket holds a whole token at <paramref name="nowTicks"/>; takes nothing.</summary>
    public bool HasToken(UInt128 key, long nowTicks, int burst, int perMinute)
    {
        if (!_index.TryGetValue(key, out var slot))
        {
            return burst >= 1;
        }

        ref var entry = ref _slots[slot];
        var elapsed = Math.Max(0, nowTicks - entry.RefilledAt);
        return Math.Min(burst, entry.Tokens + (elapsed / (TimeSpan.TicksPerMinute / (double)perMinute))) >= 1;
    }

    /// <summary>Notes a recorded scan; true when the same address had one within <paramref name="window"/>.</summary>
    public bool MarkScanned(string address, long nowTicks, TimeSpan window) => MarkScanned(KeyOf(address), nowTicks, window);

    /// <inheritdoc cref="MarkScanned(string, long, TimeSpan)"/>
    public bool MarkScanned(UInt128 key, long nowTicks, TimeSpan window)
    {
        ref var entry = ref Touch(key, nowTicks, burst: 0);
        var repeat = entry.LastScanAt != long.MinValue && nowTicks - entry.LastScanAt < window.Ticks;
        entry.LastScanAt = nowTicks;
        entry.ForgetAfter = Math.Max(entry.ForgetAfter, nowTicks + window.Ticks);
        return repeat;
    }

    /// <summary>
    /// The address as a 128-bit number (IPv4 as its IPv4-mapped IPv6 form). Something that is not an address
    /// (the gateway never sends one) gets a key of its own from its text, apart from every real address.
    /// </summary>
    public static UInt128 KeyOf(string address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (IPAddress.TryParse(address, out var ip))
        {
            if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            {
                bytes[..10].Clear();
                bytes[10] = 0xff;
                bytes[11] = 0xff;
                ip.TryWriteBytes(bytes[12..], out _);
            }
            else
            {
                ip.TryWriteBytes(bytes, out _);
            }

            return BinaryPrimitives.ReadUInt128BigEndian(bytes);
        }

        // Not an address: the top 16 bits 0x0100 are the IPv6 discard-only prefix 100::/64, which no client has.
        return ((UInt128)0x0100 << 112) | (uint)StringComparer.Ordinal.GetHashCode(address);
    }

    private ref Slot Touch(UInt128 key, long nowTicks, int burst)
    {
        if (_index.TryGetValue(key, out var found))
        {
            if (found != _newest)
            {
                Unlink(found);
                LinkNewest(found);
            }

            return ref _slots[found];
        }

        // A new address: first let go of old ones that say nothing any more (at most two, so each call stays O(1)).
        for (var i = 0; i < 2 && _oldest != None && _slots[_oldest].ForgetAfter <= nowTicks; i++)
        {
            Remove(_oldest);
        }

        if (_index.Count >= _capacity)
        {
            Remove(_oldest);
        }

        var slot = Allocate();
        _slots[slot] = new Slot { Key = key, Tokens = burst, RefilledAt = nowTicks, LastScanAt = long.MinValue, ForgetAfter = nowTicks };
        _index[key] = slot;
        LinkNewest(slot);
        return ref _slots[slot];
    }

    private int Allocate()
    {
        if (_free != None)
        {
            var reused = _free;
            _free = _slots[reused].Older;
            return reused;
        }

        if (_used == _slots.Length)
        {
            Array.Resize(ref _slots, Math.Min(_capacity, Math.Max(4, _slots.Length * 2)));
        }

        return _used++;
    }

    private void Remove(int slot)
    {
        _index.Remove(_slots[slot].Key);
        Unlink(slot);
        _slots[slot].Older = _free;
        _free = slot;
    }

    private void LinkNewest(int slot)
    {
        _slots[slot].Newer = None;
        _slots[slot].Older = _newest;
        if (_newest != None)
        {
            _slots[_newest].Newer = slot;
        }

        _newest = slot;
        if (_oldest == None)
        {
            _oldest = slot;
        }
    }

    private void Unlink(int slot)
    {
        ref var s = ref _slots[slot];
        if (s.Newer != None)
        {
            _slots[s.Newer].Older = s.Older;
        }
        else
        {
            _newest = s.Older;
        }

        if (s.Older != None)
        {
            _slots[s.Older].Newer = s.Newer;
        }
        else
        {
            _oldest = s.Newer;
        }
    }
}
