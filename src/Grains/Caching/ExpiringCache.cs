namespace InvexQr.Grains.Caching;

/// <summary>
/// A bounded, thread-safe map whose entries expire a fixed time after they were set. Used for
/// short-lived answers (does a code exist, whom does an API key belong to). When full, expired
/// entries are swept; if it is still full (a flood of distinct keys) it starts over — losing an
/// entry only costs a lookup.
/// </summary>
public sealed class ExpiringCache<TValue>(int capacity, TimeSpan ttl, TimeProvider clock)
{
    private readonly Dictionary<string, (TValue Value, long Expiry)> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryGet(string key, out TValue value)
    {
        var now = clock.GetTimestamp();
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                if (entry.Expiry > now)
                {
                    value = entry.Value;
                    return true;
                }

                _entries.Remove(key);
            }
        }

        value = default!;
        return false;
    }

    public void Set(string key, TValue value)
    {
        var now = clock.GetTimestamp();
        var expiry = now + (long)(ttl.TotalSeconds * clock.TimestampFrequency);
        lock (_lock)
        {
            if (_entries.Count >= capacity && !_entries.ContainsKey(key))
            {
                Sweep(now);
            }

            _entries[key] = (value, expiry);
        }
    }

    public void Remove(string key)
    {
        lock (_lock)
        {
            _entries.Remove(key);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
        }
    }

    private void Sweep(long now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.Expiry <= now)
            {
                _entries.Remove(key);
            }
        }

        if (_entries.Count >= capacity)
        {
            _entries.Clear();
        }
    }
}
