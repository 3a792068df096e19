using System.Net;
using InvexQr.Gateway.Redirects;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace InvexQr.UnitTests.Gateway;

public sealed class UnknownCodeGuardTests
{
    [Fact]
    public void A_client_gets_its_burst_of_misses_then_is_refused()
    {
        var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }), new FakeTimeProvider());
        var client = IPAddress.Parse("127.0.0.1");
        var allowed = 0;
        for (var i = 0; i < 1000; i++)
        {
            if (guard.MayLookUp(client))
            {
                allowed++;
                guard.Missed(client);
            }
        }

        Assert.Equal(30, allowed);
        Assert.True(guard.MayLookUp(IPAddress.Parse("127.0.0.2"))); // another client has its own bucket
    }

    [Fact]
    public async Task Concurrent_lookups_cannot_overdraw_the_bucket()
    {
        var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }), new FakeTimeProvider());
        var client = IPAddress.Parse("127.0.0.1");
        var allowed = 0;
        var lookups = new Barrier(4);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            lookups.SignalAndWait();
            for (var i = 0; i < 500; i++)
            {
                if (guard.MayLookUp(client))
                {
                    Interlocked.Increment(ref allowed);
                    guard.Missed(client);
                }
            }
        })));

        // Asking and spending are two steps: at most one allowance per racing thread beyond the burst.
        Assert.InRange(allowed, 30, 30 + 4);
    }

    [Fact]
    public void After_the_burst_a_flood_gets_only_the_refill_rate()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }), clock);
        var client = IPAddress.Parse("203.0.113.7");
        var allowed = 0;
        // A flood: a request every 10 ms for 3.5 s.
        for (var i = 0; i < 350; i++)
        {
            if (guard.MayLookUp(client))
            {
                allowed++;
                guard.Missed(client);
            }

            clock.Advance(TimeSpan.FromMilliseconds(10));
        }

        // 30 at once, then one a second.
        Assert.Equal(33, allowed);
        Assert.Equal(TimeSpan.FromSeconds(1), guard.RetryAfter);
        // An IPv6 client is its /64: another address of the same subscriber shares the bucket.
        var v6 = IPAddress.Parse("2001:db8:1:2::1");
        for (var i = 0; i < 30; i++)
        {
            guard.Missed(v6);
        }

        Assert.False(guard.MayLookUp(IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.True(guard.MayLookUp(IPAddress.Parse("2001:db8:1:3::1")));
    }
}
