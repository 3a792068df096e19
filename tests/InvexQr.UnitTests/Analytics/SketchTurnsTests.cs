using InvexQr.Grains.Analytics;
using InvexQr.Silo.Analytics;

namespace InvexQr.UnitTests.Analytics;

public sealed class SketchTurnsTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(SketchTurns.MaxPerFlush, 1)]       // light load: every changed sketch at every flush, as before
    [InlineData(SketchTurns.MaxPerFlush + 1, 2)]
    [InlineData(10_000, 8)]                         // 10,000 busy codes: each every 8th flush
    [InlineData(100_000, 64)]
    public void The_stride_keeps_a_flush_near_its_budget(int changed, int expected)
    {
        Assert.Equal(expected, SketchTurns.Stride(changed));
    }

    [Fact]
    public void Over_one_stride_of_flushes_every_code_takes_its_turn_exactly_once_and_no_flush_exceeds_the_budget()
    {
        const int codes = 10_000;
        var stride = SketchTurns.Stride(codes);
        var turns = new int[codes + 1];
        for (long flush = 1_000; flush < 1_000 + stride; flush++)
        {
            var taken = 0;
            for (var id = 1; id <= codes; id++)
            {
                if (SketchTurns.Takes(id, flush, stride))
                {
                    turns[id]++;
                    taken++;
                }
            }

            Assert.InRange(taken, 1, SketchTurns.MaxPerFlush);
        }

        Assert.All(turns.Skip(1), n => Assert.Equal(1, n));
    }

    [Fact]
    public void A_hand_over_without_sketches_leaves_the_changed_sketch_for_the_next_one()
    {
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var today = DateOnly.FromDateTime(t.UtcDateTime);
        // Two visitors whose hashes fall in different registers of the sketch.
        counters.RecordScan(t, isBot: false, isRepeat: false, null, null, 0x1234_5678_9ABC_DEF0UL);
        counters.RecordScan(t, isBot: false, isRepeat: false, null, null, 0xFEDC_BA98_7654_3210UL);

        var counts = counters.TakeDelta(5, today, withSketches: false)!;
        Assert.Equal(2, counts.Hours.Single().Counts.Scans);
        Assert.Empty(counts.Sketches);
        Assert.True(counters.HasDirtySketch);
        // Nothing new was counted, and the sketch is still not wanted: nothing to hand over.
        Assert.Null(counters.TakeDelta(5, today, withSketches: false));

        // Days later the sketch is still kept until it has been handed over.
        var later = today.AddDays(3);
        Assert.Null(counters.TakeDelta(5, later, withSketches: false));
        var sketch = counters.TakeDelta(5, later)!;
        Assert.Empty(sketch.Hours);
        Assert.Equal(2, HyperLogLog.FromBytes(sketch.Sketches[today])!.Estimate());
        Assert.False(counters.HasDirtySketch);
        Assert.Null(counters.TakeDelta(5, later));
    }
}
