using System.Collections.Concurrent;
using System.Net;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// Limits wrong API keys (in a header or at the dashboard's sign-in) per client address: after
/// <c>Auth:FailedAttemptsPerMinute</c> (default 20) failures in a minute, every key from that address is answered 429
/// with Retry-After until the minute is over, right keys included, so guessing cannot go on at full speed. IPv6
/// clients are counted per /64, which one subscriber usually holds whole. Per gateway, in memory.
/// </summary>
public sealed class FailedAuthThrottle(IConfiguration configuration, TimeProvider clock)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private const int MaxTracked = 100_000;

    private readonly int _limit = configuration.GetValue("Auth:FailedAttemptsPerMinute", 20) is var limit and >= 1
        ? limit
        : throw new InvalidOperationException("Auth:FailedAttemptsPerMinute must be at least 1.");

    private readonly ConcurrentDictionary<string, Counter> _failures = new();

    /// <summary>How long the address must wait before presenting a key again; null when it may now.</summary>
    public TimeSpan? RetryAfter(IPAddress? address)
    {
        if (address is null || !_failures.TryGetValue(Key(address), out var counter))
        {
            return null;
        }

        lock (counter)
        {
            var left = counter.Start + Window - clock.GetUtcNow();
            return counter.Count >= _limit && left > TimeSpan.Zero ? left : null;
        }
    }

    public void RecordFailure(IPAddress? address)
    {
        if (address is null)
        {
            return;
        }

        if (_failures.Count >= MaxTracked)
        {
            Prune();
        }

        var now = clock.GetUtcNow();
        var counter = _failures.GetOrAdd(Key(address), _ => new Counter { Start = now });
        lock (counter)
        {
            if (now - counter.Start >= Window)
            {
                counter.Start = now;
                counter.Count = 0;
            }

            counter.Count++;
        }
    }

    private void Prune()
    {
        var now = clock.GetUtcNow();
        foreach (var (key, counter) in _failures)
        {
            if (now - counter.Start >= Window)
            {
                _failures.TryRemove(key, out _);
            }
        }
    }

    private static string Key(IPAddress address)
    {
        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes).ToString();
        }

        return address.ToString();
    }

    private sealed class Counter
    {
        public DateTimeOffset Start;
        public int Count;
    }
}
