using InvexQr.Grains.Caching;
using InvexQr.Abstractions;
using InvexQr.Grains.Accounts;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// Remembers key lookups for a few seconds so an API client's burst costs one lookup, and so a flood
/// of wrong keys does not become a flood of database reads. A revoked key stops working within
/// <see cref="Ttl"/>. Keys are held by hash only.
/// </summary>
public sealed class ApiKeyCache(TimeProvider clock)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    private readonly ExpiringCache<Principal?> _principals = new(10_000, Ttl, clock);

    public async Task<Principal?> GetOrLookupAsync(byte[] keyHash, Func<Task<Principal?>> lookup)
    {
        var key = Convert.ToHexString(keyHash);
        if (_principals.TryGet(key, out var cached))
        {
            return cached;
        }

        var principal = await lookup();
        _principals.Set(key, principal);
        return principal;
    }

    /// <summary>Forgets every cached answer (after a key is revoked through this gateway).</summary>
    public void Clear() => _principals.Clear();
}
