using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Redirects;

/// <summary>The <c>Network:UnknownCodes</c> section: how many unknown or malformed codes one client may try.</summary>
public sealed class UnknownCodeOptions
{
    public const string Section = "Network:UnknownCodes";

    /// <summary>Misses a client may make at once.</summary>
    public int Burst { get; set; } = 30;

    /// <summary>Misses a client earns back per minute.</summary>
    public int PerMinute { get; set; } = 60;
}

/// <summary>
/// Keeps random-code scanning away from the cluster: each client address (an IPv6 client by its /64,
/// which one subscriber usually owns whole) has a token bucket of <em>misses</em> — unknown or
/// malformed codes. A scan of a code this gateway already knows never touches the bucket, so a
/// person scanning real posters is never slowed down; once a client's misses are used up, codes
/// that would need a lookup answer 429 without reaching the cluster or the database. Idle buckets
/// are dropped by the limiter itself, so memory follows the number of active scanners.
/// </summary>
public sealed class UnknownCodeGuard : IDisposable
{
    private readonly PartitionedRateLimiter<string> _misses;
    private readonly TimeSpan _refill;

    public UnknownCodeGuard(IOptions<UnknownCodeOptions> options)
    {
        var settings = options.Value;
        var burst = Math.Max(1, settings.Burst);
        var perMinute = Math.Max(1, settings.PerMinute);
        _refill = TimeSpan.FromMinutes(1.0 / perMinute);
        _misses = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = burst,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = _refill,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    /// <summary>How long a refused client should wait: one miss comes back per this interval.</summary>
    public TimeSpan RetryAfter => _refill;

    /// <summary>True while the client has a whole miss left (asking costs nothing).</summary>
    public bool MayLookUp(IPAddress? client) =>
        // Not AttemptAcquire(0): it succeeds on any fraction of a token, and the bucket refills in fractions,
        // so after the first refill a client would never be refused again.
        _misses.GetStatistics(Key(client)) is not { CurrentAvailablePermits: < 1 };

    /// <summary>Spends one miss: the client asked for a code that does not exist.</summary>
    public void Missed(IPAddress? client)
    {
        using var _ = _misses.AttemptAcquire(Key(client), 1);
    }

    public void Dispose() => _misses.Dispose();

    private static string Key(IPAddress? client)
    {
        if (client is null)
        {
            return "-";
        }

        if (client.AddressFamily == AddressFamily.InterNetworkV6 && !client.IsIPv4MappedToIPv6)
        {
            var bytes = client.GetAddressBytes();
            Array.Clear(bytes, 8, 8); // the /64
            return new IPAddress(bytes).ToString();
        }

        return (client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client).ToString();
    }
}
