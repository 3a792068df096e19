using InvexQr.Silo.Hosting;

namespace InvexQr.UnitTests.Analytics;

public sealed class RollupFlushIntervalTests
{
    [Theory]
    [InlineData(0, 2000)]       // nothing pending: the usual 2 s, stats within ~3 s
    [InlineData(50, 2000)]      // a light flush
    [InlineData(400, 3200)]     // thousands of codes in the last flush: wait eight times what it took
    [InlineData(2000, 5000)]    // never longer than 5 s, however slow the database is
    public void The_pause_after_a_flush_grows_with_its_cost_within_bounds(int flushMs, int expectedMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RollupSink.NextInterval(TimeSpan.FromMilliseconds(flushMs)));
    }
}
