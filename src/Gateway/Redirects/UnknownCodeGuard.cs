using System.Net;
using System.Net.Sockets;
using InvexQr.Grains.Protection;
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
/// that would need a lookup answer 429 without reaching the cluster or the database. Buckets live in
/// bounded LRU trackers (a full, idle bucket is forgotten first), so memory follows the active scanners.
/// </summary>
public sealed class UnknownCodeGuard
{
    private const int Stripes = 16;
    private const int ClientsPerStripe = 10_000;

    private readonly (Lock Gate, ClientTracker Buckets)[] _stripes =
        Enumerable.Range(0, Stripes).Select(_ => (new Lock(), new ClientTracker(ClientsPerStripe))).ToArray();
    private readonly int _burst;
    private readonly int _perMinute;
    private readonly TimeProvider _clock;

    public UnknownCodeGuard(IOptions<UnknownCodeOptions> options, TimeProvider clock)
    {
        _burst = Math.Max(1, options.Value.Burst);
        _perMinute = Math.Max(1, options.Value.PerMinute);
        _clock = clock;
        RetryAfter = TimeSpan.FromMinutes(1.0 / _perMinute);
    }

    /// <summary>How long a refused client should wait: one miss comes back per this interval.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>True while the client has a whole miss left (asking costs nothing).</summary>
    public bool MayLookUp(IPAddress? client)
    {
        var key = Key(client);
        var (gate, buckets) = StripeOf(key);
        lock (gate)
        {
            return buckets.HasToken(key, _clock.GetUtcNow().UtcTicks, _burst, _perMinute);
        }
    }

    /// <summary>Spends one miss: the client asked for a code that does not exist.</summary>
    public void Missed(IPAddress? client)
    {
        var key = Key(client);
        var (gate, buckets) = StripeOf(key);
        lock (gate)
        {
            buckets.TryTake(key, _clock.GetUtcNow().UtcTicks, _burst, _perMinute, out _);
        }
    }

    private (Lock Gate, ClientTracker Buckets) StripeOf(UInt128 key) => _stripes[(int)(key % Stripes)];

    /// <summary>An IPv6 client by its /64 (which one subscriber usually owns whole), any other by its address.</summary>
    private static UInt128 Key(IPAddress? client)
    {
        if (client is null)
        {
            return UInt128.Zero;
        }

        if (client.AddressFamily == AddressFamily.InterNetworkV6 && !client.IsIPv4MappedToIPv6)
        {
            var bytes = client.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            client = new IPAddress(bytes);
        }

        return ClientTracker.KeyOf((client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client).ToString());
    }
}
