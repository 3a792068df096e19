namespace InvexQr.Grains.Caching;

/// <summary>
/// A bounded, thread-safe set whose members expire after a fixed time. Used for short-lived
/// "known" / "unknown" answers about codes. When full, expired members are swept; if it is still
/// full (a flood of distinct keys), it starts over — losing a cache entry only costs a lookup.
/// </summary>
public sealed class ExpiringSet(int capacity, TimeSpan ttl, TimeProvider clock)
{
    private readonly Dictionary<string, long> _expiries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _expiries.Count;
            }
        }
    }

    public bool Contains(string key)
    {
        var now = clock.GetTimestamp();
        lock (_lock)
        {
            if (!_expiries.TryGetValue(key, out var expiry))
            {
                return false;
            }

            if (expiry > now)
            {
                return true;
            }

            _expiries.Remove(key);
            return false;
        }
    }

    public void Add(string key)
    {
        var now = clock.GetTimestamp();
        var expiry = now + (long)(ttl.TotalSeconds * clock.TimestampFrequency);
        lock (_lock)
        {
            if (_expiries.Count >= capacity && !_expiries.ContainsKey(key))
            {
                Sweep(now);
            }

            _expiries[key] = expiry;
        }
    }

    public void Remove(string key)
    {
        lock (_lock)
        {
            _expiries.Remove(key);
        }
    }

    private void Sweep(long now)
    {
        foreach (var (key, expiry) in _expiries)
        {
            if (expiry <= now)
            {
                _expiries.Remove(key);
            }
        }

        if (_expiries.Count >= capacity)
        {
            _expiries.Clear();
        }
    }
}
