using System.Net;
using InvexQr.Gateway.Redirects;
using Microsoft.Extensions.Options;

namespace InvexQr.UnitTests.Gateway;

public sealed class UnknownCodeGuardTests
{
    [Fact]
    public void A_client_gets_its_burst_of_misses_then_is_refused()
    {
        using var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }));
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
        using var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }));
        var client = IPAddress.Parse("127.0.0.1");
        var allowed = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (_, _) =>
        {
            if (guard.MayLookUp(client))
            {
                Interlocked.Increment(ref allowed);
                await Task.Delay(5); // the lookup
                guard.Missed(client);
            }
        });

        Assert.InRange(allowed, 30, 30 + 64);
    }

    [Fact]
    public async Task After_the_burst_a_flood_gets_only_the_refill_rate_for_longer_than_a_refill_period()
    {
        using var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }));
        var client = IPAddress.Parse("203.0.113.7");
        var allowed = 0;
        var until = DateTime.UtcNow.AddSeconds(3.5);
        while (DateTime.UtcNow < until)
        {
            if (guard.MayLookUp(client))
            {
                allowed++;
                guard.Missed(client);
            }

            await Task.Delay(1);
        }

        // 30 at once, then one a second: 33 or 34 in 3.5 s (the refill may have just ticked).
        Assert.InRange(allowed, 30, 35);
    }
}
