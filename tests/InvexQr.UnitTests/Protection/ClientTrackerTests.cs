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

    [Fact]
    public void An_address_is_forgotten_once_its_bucket_is_full_and_its_repeat_window_is_over_not_before()
    {
        var tracker = new ClientTracker(100);
        var window = TimeSpan.FromMinutes(1);
        long At(double minutes) => T0 + (long)(minutes * TimeSpan.TicksPerMinute);

        // A person, once; then a script: two scans served, the third throttled. Its bucket is full again two
        // minutes later.
        Assert.True(tracker.TryTake("198.51.100.7", At(0), burst: 2, perMinute: 1, out _));
        tracker.MarkScanned("198.51.100.7", At(0), window);
        Assert.True(tracker.TryTake("203.0.113.9", At(0), 2, 1, out _));
        tracker.MarkScanned("203.0.113.9", At(0), window);
        Assert.True(tracker.TryTake("203.0.113.9", At(0), 2, 1, out _));
        Assert.False(tracker.TryTake("203.0.113.9", At(0), 2, 1, out _));

        // 1.5 min later the person's window is over and their bucket has refilled: forgotten when others arrive
        // (the least recently seen entries are checked). The script's bucket is not full yet: it stays, throttled.
        Assert.True(tracker.TryTake("192.0.2.50", At(1.5), 2, 1, out _));
        Assert.True(tracker.TryTake("192.0.2.51", At(1.5), 2, 1, out _));
        Assert.Equal(3, tracker.Count);
        Assert.True(tracker.TryTake("203.0.113.9", At(1.5), 2, 1, out _)); // 1.5 tokens back: one served
        Assert.False(tracker.TryTake("203.0.113.9", At(1.5), 2, 1, out _));

        // Much later everyone is forgotten as new addresses come: memory follows recent addresses, not all ever seen.
        for (var i = 0; i < 10; i++)
        {
            tracker.TryTake($"192.0.2.{100 + i}", At(60), 2, 1, out _);
        }

        Assert.Equal(10, tracker.Count);
        Assert.False(tracker.MarkScanned("198.51.100.7", At(60), window)); // not a repeat: it came back as new
    }

    [Fact]
    public void At_capacity_the_least_recently_seen_address_is_evicted()
    {
        var tracker = new ClientTracker(3);
        var window = TimeSpan.FromMinutes(30);
        foreach (var address in new[] { "192.0.2.1", "192.0.2.2", "192.0.2.3" })
        {
            tracker.MarkScanned(address, T0, window);
        }

        Assert.True(tracker.MarkScanned("192.0.2.1", T0 + 1, window)); // seen again: now the most recent
        tracker.MarkScanned("192.0.2.4", T0 + 2, window);               // evicts 192.0.2.2, the least recent
        Assert.Equal(3, tracker.Count);
        Assert.True(tracker.MarkScanned("192.0.2.3", T0 + 3, window));
        Assert.True(tracker.MarkScanned("192.0.2.1", T0 + 3, window));
        Assert.False(tracker.MarkScanned("192.0.2.2", T0 + 3, window));
    }

    [Fact]
    public void Keys_are_the_address_whatever_its_spelling()
    {
        Assert.Equal(ClientTracker.KeyOf("192.0.2.1"), ClientTracker.KeyOf("::ffff:192.0.2.1"));
        Assert.Equal(ClientTracker.KeyOf("2001:db8::1"), ClientTracker.KeyOf("2001:0db8:0000::0001"));
        Assert.NotEqual(ClientTracker.KeyOf("192.0.2.1"), ClientTracker.KeyOf("192.0.2.2"));
        Assert.NotEqual(ClientTracker.KeyOf("2001:db8::1"), ClientTracker.KeyOf("2001:db8::2"));
        // Not an address (the gateway never sends one): still a key of its own, apart from real addresses.
        Assert.Equal(ClientTracker.KeyOf("not-an-ip"), ClientTracker.KeyOf("not-an-ip"));
        Assert.NotEqual(ClientTracker.KeyOf("not-an-ip"), ClientTracker.KeyOf("0.0.0.0"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClientTracker(0));
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
        // Structs in arrays, no object per address: about 160 B each (it was about 190 B in four objects each).
        Assert.True(after - before < 3 * 1024 * 1024, $"grew by {after - before} bytes");
        GC.KeepAlive(tracker);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory measurements (run alone)";
}
