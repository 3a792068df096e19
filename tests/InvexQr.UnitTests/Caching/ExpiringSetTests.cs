using InvexQr.Grains.Caching;

namespace InvexQr.UnitTests.Caching;

public sealed class ExpiringSetTests
{
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks { get; set; }

        public override long GetTimestamp() => Ticks;

        public override long TimestampFrequency => 1000; // milliseconds
    }

    [Fact]
    public void Members_expire_after_the_ttl()
    {
        var clock = new ManualClock();
        var set = new ExpiringSet(10, TimeSpan.FromSeconds(5), clock);
        set.Add("a");

        clock.Ticks = 4_999;
        Assert.True(set.Contains("a"));
        clock.Ticks = 5_000;
        Assert.False(set.Contains("a"));
    }

    [Fact]
    public void Memory_stays_bounded_under_a_flood_of_distinct_keys()
    {
        var set = new ExpiringSet(1_000, TimeSpan.FromMinutes(1), new ManualClock());
        for (var i = 0; i < 100_000; i++)
        {
            set.Add("code" + i);
        }

        Assert.InRange(set.Count, 1, 1_000);
        Assert.True(set.Contains("code99999"));
    }

    [Fact]
    public void Removed_members_are_gone()
    {
        var set = new ExpiringSet(10, TimeSpan.FromMinutes(1), new ManualClock());
        set.Add("a");
        set.Remove("a");
        Assert.False(set.Contains("a"));
    }
}
