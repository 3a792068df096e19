using InvexQr.Abstractions;
namespace InvexQr.Enrichment.Caching;

/// <summary>
/// A bounded, thread-safe least-recently-used cache. Enrichment results (geolocation by IP,
/// parsed user agents) are cached so the scan path pays for a lookup once per distinct key.
/// One lock: the critical section is a dictionary probe and a list splice (tens of nanoseconds).
/// </summary>
public sealed class LruCache<TKey, TValue>(int capacity)
    where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> _map = new(capacity);
    private readonly LinkedList<(TKey Key, TValue Value)> _order = new();
    private readonly Lock _lock = new();
    private long _hits;
    private long _misses;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _map.Count;
            }
        }
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Forgets every entry (the counters stay: they are monotonic for metrics).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _map.Clear();
            _order.Clear();
        }
    }

    public TValue GetOrAdd(TKey key, Func<TKey, TValue> factory)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                _hits++;
                return node.Value.Value;
            }
        }

        // Computed outside the lock: two threads may compute the same value once each; both are equal.
        var value = factory(key);
        lock (_lock)
        {
            _misses++;
            if (_map.TryGetValue(key, out var existing))
            {
                return existing.Value.Value;
            }

            _map[key] = _order.AddFirst((key, value));
            if (_map.Count > capacity)
            {
                var last = _order.Last!;
                _order.RemoveLast();
                _map.Remove(last.Value.Key);
            }

            return value;
        }
    }
}
