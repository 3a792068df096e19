using System.Diagnostics;
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
    public void After_the_burst_a_flood_gets_only_the_refill_rate_for_longer_than_a_refill_period()
    {
        using var guard = new UnknownCodeGuard(Options.Create(new UnknownCodeOptions { Burst = 30, PerMinute = 60 }));
        var client = IPAddress.Parse("203.0.113.7");
        var allowed = 0;
        var started = Stopwatch.GetTimestamp();
        // Polls on this thread with Thread.Sleep, not Task.Delay: while the other tests keep the thread pool busy,
        // each Task.Delay continuation waited up to half a second for a thread, and the loop saw only 6 or 7 polls.
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3.5))
        {
            if (guard.MayLookUp(client))
            {
                allowed++;
                guard.Missed(client);
            }

            Thread.Sleep(1);
        }

        // 30 at once, then one a second: 33 or 34 in 3.5 s. On a busy machine the loop may run late, so the
        // bounds follow the time that really passed: never more than one miss per elapsed second on top of the
        // burst (plus one for a refill that just ticked), and at least the refills of two whole seconds.
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Assert.InRange(allowed, 32, 30 + (int)Math.Ceiling(elapsed) + 1);
    }
}
