using InvexQr.Grains.Accounts;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// Remembers key lookups for a few seconds so an API client's burst costs one lookup, and so a flood
/// of wrong keys does not become a flood of database reads. A revoked key stops working within
/// <see cref="Ttl"/>. Keys are held by hash only. Bounded: when full it starts over.
/// </summary>
public sealed class ApiKeyCache(TimeProvider clock)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private const int Capacity = 10_000;

    private readonly Dictionary<string, (Principal? Principal, DateTimeOffset Expires)> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public async Task<Principal?> GetOrLookupAsync(byte[] keyHash, Func<Task<Principal?>> lookup)
    {
        var key = Convert.ToHexString(keyHash);
        var now = clock.GetUtcNow();
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Expires > now)
            {
                return entry.Principal;
            }
        }

        var principal = await lookup();
        lock (_lock)
        {
            if (_entries.Count >= Capacity)
            {
                _entries.Clear();
            }

            _entries[key] = (principal, now + Ttl);
        }

        return principal;
    }

    /// <summary>Forgets every cached answer (after a key is revoked through this gateway).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
        }
    }
}
