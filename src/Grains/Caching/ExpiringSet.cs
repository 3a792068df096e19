namespace InvexQr.Grains.Caching;

/// <summary>A bounded set whose members expire after a fixed time: an <see cref="ExpiringCache{TValue}"/> without values.</summary>
public sealed class ExpiringSet(int capacity, TimeSpan ttl, TimeProvider clock)
{
    private readonly ExpiringCache<bool> _members = new(capacity, ttl, clock);

    public int Count => _members.Count;

    public bool Contains(string key) => _members.TryGet(key, out _);

    public void Add(string key) => _members.Set(key, true);

    public void Remove(string key) => _members.Remove(key);
}
