using InvexQr.Abstractions;
using InvexQr.Grains.Scans;

namespace InvexQr.UnitTests.Scans;

public sealed class ScanIdsTests
{
    [Fact]
    public void An_id_is_a_version_7_uuid_carrying_the_scan_time_in_milliseconds()
    {
        var at = new DateTimeOffset(2026, 11, 25, 13, 30, 15, 123, TimeSpan.Zero);
        var id = ScanIds.NewId(at);
        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2);
        var text = id.ToString("N");
        Assert.Equal(at.ToUnixTimeMilliseconds(), Convert.ToInt64(text[..12], 16));
        // The same layout as the framework's own UUIDv7 for the same millisecond.
        Assert.Equal(Guid.CreateVersion7(at).ToString("N")[..13], text[..13]);
    }

    [Fact]
    public void Ids_of_one_millisecond_are_distinct_and_later_ids_sort_after_earlier_ones()
    {
        var at = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 100_000).Select(_ => ScanIds.NewId(at)).ToHashSet();
        Assert.Equal(100_000, ids.Count);
        Assert.True(string.CompareOrdinal(ScanIds.NewId(at.AddMilliseconds(1)).ToString("N"), ScanIds.NewId(at).ToString("N")) > 0);
    }
}
