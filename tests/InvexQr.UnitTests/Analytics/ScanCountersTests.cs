using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;

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
        counters.RecordScan(new ScanFacts(t, false, false, Paris, Phone, 1));
        counters.RecordScan(new ScanFacts(t.AddMinutes(2), false, true, Paris, Phone, 1));
        counters.RecordScan(new ScanFacts(t.AddMinutes(3), true, false, null, Crawler, 2));
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
        // Only the human visitor is counted, once: one register.
        Assert.Equal(1, HyperLogLog.FromRegisters(delta.Registers.Select(r => ((int)r.Register, r.Rank))).Estimate());
        Assert.Single(delta.Registers);

        Assert.Null(counters.TakeDelta(42, DateOnly.FromDateTime(t.UtcDateTime)));
    }

    [Fact]
    public void Each_hand_over_holds_only_what_was_counted_since_the_last_and_a_quiet_hour_is_dropped()
    {
        // The counting objects are reused between hand-overs: what was handed over must not come again.
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 12, 1, 10, 5, 0, TimeSpan.Zero);
        var today = DateOnly.FromDateTime(t.UtcDateTime);
        counters.RecordScan(new ScanFacts(t, false, false, Paris, Phone, 1));
        counters.RecordScan(new ScanFacts(t, false, false, null, Phone, 1));
        var first = counters.TakeDelta(7, today)!.Hours.Single();

        counters.RecordScan(new ScanFacts(t.AddMinutes(1), false, true, Paris, Crawler with { IsBot = false }, 1));
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
        counters.RecordScan(new ScanFacts(t.AddMinutes(2), false, false, Paris, Phone, 1));
        Assert.Equal(1, second.Counts.Scans);

        // The next hour: 10 o'clock had nothing new, so only 11 comes, and then nothing at all.
        counters.TakeDelta(7, today);
        counters.RecordScan(new ScanFacts(t.AddHours(1), false, false, Paris, Phone, 1));
        Assert.Equal(11, counters.TakeDelta(7, today)!.Hours.Single().Hour.Hour);
        Assert.Null(counters.TakeDelta(7, today));
        Assert.Null(counters.TakeDelta(7, today));
    }

    [Fact]
    public void Registers_are_handed_over_once_and_together_make_the_sketch_of_every_visitor()
    {
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var today = DateOnly.FromDateTime(t.UtcDateTime);
        var expected = new HyperLogLog();
        var stored = new HyperLogLog(); // what the database holds: every register raised to the largest rank written
        var random = new Random(7);
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 500; i++)
            {
                var visitor = (ulong)random.NextInt64();
                expected.Add(visitor);
                counters.RecordScan(new ScanFacts(t, false, false, Paris, Phone, visitor));
            }

            var delta = counters.TakeDelta(1, today)!;
            Assert.Equal(delta.Registers.Count, delta.Registers.Select(r => r.Register).Distinct().Count());
            foreach (var register in delta.Registers)
            {
                Assert.True(stored.Raise(register.Register, register.Rank), "a register was handed over without being raised");
            }
        }

        Assert.Equal(expected.ToBytes(), stored.ToBytes());
        // Visitors seen before raise nothing: returning people cost no write.
        counters.RecordScan(new ScanFacts(t, false, false, Paris, Phone, 12345));
        var first = counters.TakeDelta(1, today)!.Registers;
        counters.RecordScan(new ScanFacts(t, false, false, Paris, Phone, 12345));
        Assert.Empty(counters.TakeDelta(1, today)!.Registers);
        Assert.True(first.Count <= 1);
    }

    [Fact]
    public void A_code_with_nothing_new_is_idle_after_one_empty_take()
    {
        var counters = new ScanCounters();
        var t = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        counters.RecordScan(new ScanFacts(t, false, false, Paris, Phone, 1));
        Assert.False(counters.IsIdle);
        Assert.NotNull(counters.TakeDelta(1, DateOnly.FromDateTime(t.UtcDateTime)));
        Assert.False(counters.IsIdle); // its hour objects are kept for the next scans
        Assert.Null(counters.TakeDelta(1, DateOnly.FromDateTime(t.UtcDateTime)));
        Assert.True(counters.IsIdle);
    }
}
