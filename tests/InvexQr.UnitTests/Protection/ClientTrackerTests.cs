using InvexQr.Grains.Protection;

namespace InvexQr.UnitTests.Protection;

public sealed class ClientTrackerTests
{
    private static readonly long T0 = new DateTime(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc).Ticks;

    [Fact]
    public void A_burst_is_served_then_tokens_come_back_at_the_configured_rate()
    {
        var tracker = new ClientTracker(100);
        var served = Enumerable.Range(0, 50).Count(i => tracker.TryTake("203.0.113.9", T0, burst: 30, perMinute: 30, out _));
        Assert.Equal(30, served);

        Assert.False(tracker.TryTake("203.0.113.9", T0, 30, 30, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(2), retryAfter); // 30 per minute: one every 2 s

        Assert.True(tracker.TryTake("203.0.113.9", T0 + TimeSpan.FromSeconds(2).Ticks, 30, 30, out _));
        Assert.True(tracker.TryTake("198.51.100.1", T0, 30, 30, out _)); // other addresses have their own bucket
    }

    [Fact]
    public void An_office_behind_one_address_scanning_one_after_another_is_never_throttled()
    {
        var tracker = new ClientTracker(100);
        // 200 people over 10 minutes, one every 3 s, all behind one NAT address.
        for (var i = 0; i < 200; i++)
        {
            Assert.True(tracker.TryTake("192.0.2.1", T0 + TimeSpan.FromSeconds(3 * i).Ticks, 30, 30, out _), $"person {i}");
        }
    }

    [Fact]
    public void Repeat_scans_are_detected_within_the_window()
    {
        var tracker = new ClientTracker(100);
        var window = TimeSpan.FromMinutes(30);
        Assert.False(tracker.MarkScanned("192.0.2.1", T0, window));
        Assert.True(tracker.MarkScanned("192.0.2.1", T0 + TimeSpan.FromMinutes(29).Ticks, window));
        Assert.False(tracker.MarkScanned("192.0.2.1", T0 + TimeSpan.FromMinutes(60).Ticks, window));
    }
}

/// <summary>
/// Measures retained memory with <see cref="GC.GetTotalMemory(bool)"/>, which counts the whole process: it runs
/// alone, after the parallel tests, or another test's allocations are counted as its own.
/// </summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class ClientTrackerMemoryTests
{
    private static readonly long T0 = new DateTime(2026, 11, 24, 12, 0, 0, DateTimeKind.Utc).Ticks;

    [Fact]
    public void Memory_stays_bounded_with_100000_distinct_addresses_on_one_code()
    {
        var tracker = new ClientTracker(10_000);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 100_000; i++)
        {
            var address = $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}";
            tracker.TryTake(address, T0 + i, 30, 30, out _);
            tracker.MarkScanned(address, T0 + i, TimeSpan.FromMinutes(30));
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(10_000, tracker.Count);
        var perAddress = (after - before) / 10_000.0;
        Console.WriteLine($"ClientTracker: 100,000 distinct addresses → {tracker.Count} tracked, {(after - before) / 1024.0 / 1024.0:F2} MiB ({perAddress:F0} B per tracked address)");
        Assert.True(after - before < 10 * 1024 * 1024, $"grew by {after - before} bytes");
        GC.KeepAlive(tracker);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory measurements (run alone)";
}
