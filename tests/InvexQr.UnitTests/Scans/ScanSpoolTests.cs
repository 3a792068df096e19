using InvexQr.Abstractions;
using InvexQr.Enrichment;
using InvexQr.Enrichment.Geo;
using InvexQr.Grains.Scans;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace InvexQr.UnitTests.Scans;

/// <summary>The local spool on a real directory: what is appended comes back, a crash's torn write is not a scan, bounds hold.</summary>
public sealed class ScanSpoolTests : IDisposable
{
    private static readonly Guid Instance = Guid.NewGuid();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "spool-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Every_field_of_a_scan_comes_back_as_it_was_appended()
    {
        var full = new ScanRecord(
            Guid.CreateVersion7(), 42, new DateTimeOffset(2026, 11, 25, 10, 30, 15, 123, TimeSpan.Zero), "203.0.113.0", "Mozilla/5.0 (iPhone) ü",
            "https://ref.example/", new GeoLocation("GB", "United Kingdom", "England", "Gamlingay", 52.1, -0.2),
            new ClientInfo("Mobile Safari", "iOS", "mobile", false), IsRepeat: true, VisitorHash: -7, Route: "ab/b");
        var bare = new ScanRecord(Guid.CreateVersion7(), 43, DateTimeOffset.UnixEpoch, null, null, null);
        var bot = bare with { Id = Guid.CreateVersion7(), Client = new ClientInfo(null, null, "bot", true), Location = GeoLocation.Unknown };

        using (var spool = Open())
        {
            Assert.True(spool.TryAppend([full, bare]));
            Assert.True(spool.TryAppend([bot]));
            Assert.Equal(3, spool.Scans);
            var segment = spool.Next()!;
            Assert.Equal([full, bare, bot], segment.Scans);
            Assert.False(segment.Damaged);
            spool.Remove(segment);
            Assert.False(spool.HasPending);
            Assert.Null(spool.Next());
        }

        Assert.False(Directory.Exists(_directory)); // an empty spool leaves nothing behind
    }

    [Fact]
    public void What_an_earlier_run_left_is_replayed_by_the_next_one_and_a_torn_last_write_is_ignored()
    {
        var scans = Scans(5);
        using (var spool = Open())
        {
            Assert.True(spool.TryAppend(scans[..3]));
            Assert.True(spool.TryAppend(scans[3..]));
        }

        // A crash in the middle of a third append: its frame is only half on disk, and was never acknowledged.
        var segmentPath = Directory.GetFiles(_directory, "*.spool").Single();
        var torn = SpoolFormat.Frame(Scans(2));
        using (var file = new FileStream(segmentPath, FileMode.Append))
        {
            file.Write(torn, 0, torn.Length / 2);
        }

        using var reopened = Open();
        Assert.Equal(5, reopened.Scans);
        var segment = reopened.Next()!;
        Assert.Equal(scans, segment.Scans);
        Assert.False(segment.Damaged);
        reopened.Remove(segment);
        Assert.Empty(Directory.GetFiles(_directory, "*.spool"));
    }

    [Fact]
    public void A_damaged_frame_in_the_middle_keeps_the_scans_before_it_and_the_file_for_the_operator()
    {
        var scans = Scans(3);
        using (var spool = Open())
        {
            Assert.True(spool.TryAppend(scans[..1]));
            Assert.True(spool.TryAppend(scans[1..2]));
            Assert.True(spool.TryAppend(scans[2..]));
        }

        var path = Directory.GetFiles(_directory, "*.spool").Single();
        var bytes = File.ReadAllBytes(path);
        var secondFrame = SpoolFormat.HeaderSize + SpoolFormat.Frame(scans[..1]).Length;
        bytes[secondFrame + SpoolFormat.FrameHeaderSize + 3] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        using var reopened = Open();
        var segment = reopened.Next()!;
        Assert.True(segment.Damaged);
        Assert.Equal(scans[..1], segment.Scans);
        reopened.Remove(segment);
        Assert.Single(Directory.GetFiles(_directory, "*.damaged"));
    }

    [Fact]
    public void The_bound_refuses_a_batch_that_does_not_fit_and_appending_goes_on_after_a_replay()
    {
        var batch = Scans(10);
        var room = SpoolFormat.HeaderSize + (2 * SpoolFormat.Frame(batch).Length);
        using var spool = Open(capacity: room);
        Assert.True(spool.TryAppend(batch));
        Assert.True(spool.TryAppend(Scans(10)));
        Assert.False(spool.TryAppend(Scans(1)));
        Assert.Equal(20, spool.Scans);
        Assert.True(spool.Bytes <= spool.Capacity);

        spool.Remove(spool.Next()!);
        Assert.Equal(0, spool.Bytes);
        Assert.True(spool.TryAppend(Scans(10)));
    }

    [Fact]
    public void Large_spools_are_cut_into_segments_that_replay_oldest_first()
    {
        using var spool = Open();
        var appended = new List<ScanRecord>();
        while (Directory.GetFiles(_directory, "*.spool").Length < 3)
        {
            var batch = Scans(2000);
            Assert.True(spool.TryAppend(batch));
            appended.AddRange(batch);
        }

        var replayed = new List<ScanRecord>();
        while (spool.Next() is { } segment)
        {
            replayed.AddRange(segment.Scans);
            spool.Remove(segment);
        }

        Assert.Equal(appended, replayed);
        Assert.False(spool.HasPending);
    }

    [Fact]
    public void A_directory_is_owned_by_one_silo_and_a_spool_of_another_database_is_never_replayed()
    {
        using (var spool = Open())
        {
            Assert.True(spool.TryAppend(Scans(2)));
            var error = Assert.Throws<InvalidOperationException>(() => Open());
            Assert.Contains("in use by another silo", error.Message);
        }

        using var otherDatabase = ScanSpool.Open(_directory, 1 << 20, Guid.NewGuid(), NullLogger.Instance);
        Assert.False(otherDatabase.HasPending);
        Assert.Null(otherDatabase.Next());
        Assert.Single(Directory.GetFiles(_directory, "*.foreign"));
    }

    private ScanSpool Open(long capacity = 64 << 20) => ScanSpool.Open(_directory, capacity, Instance, NullLogger.Instance);

    private static ScanRecord[] Scans(int count) =>
        Enumerable.Range(0, count)
            .Select(i => new ScanRecord(Guid.CreateVersion7(), i, DateTimeOffset.UtcNow, "198.51.100.0", "ua " + i, null))
            .ToArray();
}
