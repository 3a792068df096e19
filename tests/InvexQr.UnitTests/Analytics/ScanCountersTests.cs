using InvexQr.Grains.Analytics;
using InvexQr.Grains.Enrichment;
using InvexQr.Grains.Enrichment.Geo;

namespace InvexQr.UnitTests.Analytics;

public sealed class ScanCountersTests
{
    private static readonly GeoLocation Paris = new("FR", "France", "IDF", "Paris", 48.85, 2.35);
    private static readonly ClientInfo Phone = new("Mobile Safari", "iOS", "mobile", false);
    private static readonly ClientInfo Crawler = new("Googlebot", null, "bot", true);

    [Fact]
    public void Counts_by_utc_hour_with_breakdowns_and_hands_each_scan_over_once()
    {
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 11, 24, 10, 59, 0, TimeSpan.Zero);
        counters.RecordScan(t, isBot: false, isRepeat: false, Paris, Phone, 1);
        counters.RecordScan(t.AddMinutes(2), isBot: false, isRepeat: true, Paris, Phone, 1);
        counters.RecordScan(t.AddMinutes(3), isBot: true, isRepeat: false, null, Crawler, 2);
        counters.RecordThrottled(t);

        var delta = counters.TakeDelta(42, DateOnly.FromDateTime(t.UtcDateTime))!;
        Assert.Equal(42, delta.CodeId);
        var ten = delta.Hours.Single(h => h.Hour.Hour == 10);
        var eleven = delta.Hours.Single(h => h.Hour.Hour == 11);
        Assert.Equal((1, 1, 0, 0, 1), (ten.Counts.Scans, ten.Counts.Humans, ten.Counts.Bots, ten.Counts.Repeats, ten.Counts.Throttled));
        Assert.Equal((2, 1, 1, 1), (eleven.Counts.Scans, eleven.Counts.Humans, eleven.Counts.Bots, eleven.Counts.Repeats));
        Assert.Equal(1, eleven.Dims[new DimKey(Dimensions.Country, "unknown")].Scans);
        Assert.Equal(48.85, eleven.Dims[new DimKey(Dimensions.City, "FR|Paris")].Latitude);
        Assert.Equal(1, eleven.Dims[new DimKey(Dimensions.Device, "bot")].Scans);
        // Only the human visitor is in the sketch.
        Assert.Equal(1, HyperLogLog.FromBytes(delta.Sketches.Single().Value)!.Estimate());

        Assert.Null(counters.TakeDelta(42, DateOnly.FromDateTime(t.UtcDateTime)));
    }

    [Fact]
    public void Each_hand_over_holds_only_what_was_counted_since_the_last_and_a_quiet_hour_is_dropped()
    {
        // The counting objects are reused between hand-overs: what was handed over must not come again.
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 12, 1, 10, 5, 0, TimeSpan.Zero);
        var today = DateOnly.FromDateTime(t.UtcDateTime);
        counters.RecordScan(t, false, false, Paris, Phone, 1);
        counters.RecordScan(t, false, false, null, Phone, 1);
        var first = counters.TakeDelta(7, today)!.Hours.Single();

        counters.RecordScan(t.AddMinutes(1), false, true, Paris, Crawler with { IsBot = false }, 1);
        var second = counters.TakeDelta(7, today)!.Hours.Single();
        Assert.Equal(2, first.Counts.Scans);
        Assert.Equal(1, first.Dims[new DimKey(Dimensions.Country, "unknown")].Scans);
        Assert.Equal((1, 1), (second.Counts.Scans, second.Counts.Repeats));
        Assert.Equal(1, second.Dims[new DimKey(Dimensions.Country, "FR")].Scans);
        Assert.Equal(1, second.Dims[new DimKey(Dimensions.Browser, "Googlebot")].Scans);
        // Values of the hour not seen since the last hand-over are not in the delta, not even as zeros.
        Assert.False(second.Dims.ContainsKey(new DimKey(Dimensions.Country, "unknown")));
        Assert.False(second.Dims.ContainsKey(new DimKey(Dimensions.Browser, "Mobile Safari")));
        // The copies handed over are the sink's: counting on does not change them.
        counters.RecordScan(t.AddMinutes(2), false, false, Paris, Phone, 1);
        Assert.Equal(1, second.Counts.Scans);

        // The next hour: 10 o'clock had nothing new, so only 11 comes, and then nothing at all.
        counters.TakeDelta(7, today);
        counters.RecordScan(t.AddHours(1), false, false, Paris, Phone, 1);
        Assert.Equal(11, counters.TakeDelta(7, today)!.Hours.Single().Hour.Hour);
        Assert.Null(counters.TakeDelta(7, today));
        Assert.Null(counters.TakeDelta(7, today));
    }

    [Fact]
    public void A_delta_that_could_not_be_handed_over_is_restored_and_merged()
    {
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 11, 24, 10, 0, 0, TimeSpan.Zero);
        counters.RecordScan(t, false, false, Paris, Phone, 1);
        var lost = counters.TakeDelta(1, DateOnly.FromDateTime(t.UtcDateTime))!;
        counters.RecordScan(t, false, false, Paris, Phone, 3);

        counters.Restore(lost);

        var delta = counters.TakeDelta(1, DateOnly.FromDateTime(t.UtcDateTime))!;
        Assert.Equal(2, delta.Hours.Single().Counts.Scans);
        Assert.Equal(2, delta.Hours.Single().Dims[new DimKey(Dimensions.Os, "iOS")].Scans);
    }

    [Fact]
    public async Task A_sink_taking_deltas_while_the_grain_counts_loses_and_repeats_nothing()
    {
        // The rollup sink empties the counters from its own thread while the grain keeps counting.
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        const int scans = 200_000;
        var taken = new List<RollupDelta>();
        var attempts = 0;
        var done = false;
        var sink = Task.Run(() =>
        {
            while (!Volatile.Read(ref done))
            {
                if (counters.TakeDelta(1, DateOnly.FromDateTime(t.UtcDateTime)) is { } delta)
                {
                    taken.Add(delta);
                }

                Interlocked.Increment(ref attempts);
            }
        });
        await Task.Run(() =>
        {
            for (var i = 0; i < scans; i++)
            {
                counters.RecordScan(t.AddSeconds(i % 7200), isBot: false, isRepeat: false, Paris, Phone, (ulong)i);
                if (i % 10_000 == 0)
                {
                    // Let the sink take at least once between batches, so the two really interleave.
                    var seen = Volatile.Read(ref attempts);
                    SpinWait.SpinUntil(() => Volatile.Read(ref attempts) > seen + 1, TimeSpan.FromSeconds(5));
                }
            }
        });
        Volatile.Write(ref done, true);
        await sink;
        if (counters.TakeDelta(1, DateOnly.FromDateTime(t.UtcDateTime)) is { } last)
        {
            taken.Add(last);
        }

        Assert.True(taken.Count >= 20, $"only {taken.Count} deltas: the sink did not run while the grain counted");
        Assert.Equal(scans, taken.SelectMany(d => d.Hours).Sum(h => h.Counts.Scans));
        Assert.Equal(scans, taken.SelectMany(d => d.Hours).Sum(h => h.Dims[new DimKey(Dimensions.Os, "iOS")].Scans));
    }
}
