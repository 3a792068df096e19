using System.Diagnostics.Metrics;
using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace InvexQr.UnitTests.Analytics;

public sealed class RollupSinkTests
{
    private static readonly GeoLocation Paris = new("FR", "France", "IDF", "Paris", 48.85, 2.35);
    private static readonly ClientInfo Phone = new("Mobile Safari", "iOS", "mobile", false);

    [Fact]
    public async Task Scans_counted_from_many_threads_while_it_flushes_are_written_exactly_once()
    {
        var store = new MemoryStore();
        var sink = NewSink(store);
        var t = DateTimeOffset.UtcNow;
        const int threads = 4, scansPerThread = 50_000;
        var counting = Enumerable.Range(0, threads).Select(thread => Task.Run(() =>
        {
            for (var i = 0; i < scansPerThread; i++)
            {
                sink.Count(i % 500, new ScanFacts(t, false, false, Paris, Phone, (ulong)(thread * scansPerThread + i)));
            }
        })).ToArray();
        var flushes = 0;
        while (!Task.WhenAll(counting).IsCompleted)
        {
            Assert.True(await sink.FlushAsync(CancellationToken.None));
            flushes++;
        }

        Assert.True(await sink.FlushAsync(CancellationToken.None));
        Assert.True(flushes >= 2, $"only {flushes} flushes ran while the threads counted");
        Assert.Equal(threads * scansPerThread, store.Scans);
        Assert.Equal(threads * scansPerThread, store.Dim(Dimensions.Os, "iOS"));
        Assert.Equal(500, store.Codes);
    }

    [Fact]
    public async Task A_batch_whose_commit_answer_was_lost_is_written_again_and_counted_once()
    {
        var store = new MemoryStore();
        var sink = NewSink(store);
        var t = DateTimeOffset.UtcNow;
        sink.Count(1, new ScanFacts(t, false, false, Paris, Phone, 1));
        sink.Count(1, new ScanFacts(t, false, false, Paris, Phone, 2));

        store.LoseNextAnswer = true; // committed, then the connection broke before the answer
        Assert.False(await sink.FlushAsync(CancellationToken.None));
        sink.Count(1, new ScanFacts(t, false, false, Paris, Phone, 3));
        Assert.True(await sink.FlushAsync(CancellationToken.None));

        Assert.Equal(3, store.Scans);
        Assert.Equal(2, store.Batches.Count); // the lost batch (once, skipped when retried) and the new one
    }

    [Fact]
    public async Task A_failed_write_keeps_everything_for_the_next_one_and_idle_codes_are_dropped()
    {
        var store = new MemoryStore();
        var sink = NewSink(store);
        var t = DateTimeOffset.UtcNow;
        sink.Count(1, new ScanFacts(t, false, false, Paris, Phone, 1));
        sink.CountThrottled(2, t);

        store.FailNext = true; // nothing committed
        Assert.False(await sink.FlushAsync(CancellationToken.None));
        Assert.Equal(0, store.Scans);
        Assert.True(await sink.FlushAsync(CancellationToken.None));
        Assert.Equal(1, store.Scans);
        Assert.Equal(1, store.Throttled);

        // Nothing new: after one empty flush a code's counters are gone from memory.
        Assert.True(await sink.FlushAsync(CancellationToken.None));
        Assert.Equal(0, sink.CountingCodes);
    }

    [Fact]
    public async Task A_burst_of_new_codes_is_written_in_bounded_batches_and_nothing_stays_behind()
    {
        var store = new MemoryStore();
        var sink = NewSink(store);
        var t = DateTimeOffset.UtcNow;
        const int codes = RollupSink.MaxCodesPerBatch * 2 + 123;
        for (var code = 0; code < codes; code++)
        {
            sink.Count(code, new ScanFacts(t, false, false, Paris, Phone, (ulong)code));
        }

        Assert.True(await sink.FlushAsync(CancellationToken.None));
        Assert.Equal(codes, store.Scans);
        Assert.Equal(codes, store.Codes);
        Assert.Equal(3, store.Batches.Count);
        Assert.True(store.LargestBatchCodes <= RollupSink.MaxCodesPerBatch, $"a batch held {store.LargestBatchCodes} codes");

        Assert.True(await sink.FlushAsync(CancellationToken.None));
        Assert.Equal(0, sink.CountingCodes);
    }

    private static RollupSink NewSink(IRollupStore store)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        return new RollupSink(store, new SiloMetrics(meters), TimeProvider.System, NullLogger<RollupSink>.Instance);
    }

    /// <summary>Merges batches as PostgreSQL does (sums, register maxima, batch ids remembered), and fails on demand.</summary>
    private sealed class MemoryStore : IRollupStore
    {
        private readonly Dictionary<(long, DimKey), long> _dims = [];

        public HashSet<Guid> Batches { get; } = [];

        public HashSet<long> CodeIds { get; } = [];

        public long Scans { get; private set; }

        public long Throttled { get; private set; }

        public int Codes => CodeIds.Count;

        public int LargestBatchCodes { get; private set; }

        public bool FailNext { get; set; }

        public bool LoseNextAnswer { get; set; }

        public long Dim(string dim, string value) => _dims.Where(d => d.Key.Item2 == new DimKey(dim, value)).Sum(d => d.Value);

        public Task<bool> WriteAsync(
            Guid flushId, IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours,
            IReadOnlyCollection<(long CodeId, VisitorRegister Register)> registers, CancellationToken cancellationToken)
        {
            if (FailNext)
            {
                FailNext = false;
                throw new TimeoutException("database away");
            }

            if (!Batches.Add(flushId))
            {
                return Task.FromResult(false);
            }

            LargestBatchCodes = Math.Max(LargestBatchCodes, hours.Select(h => h.CodeId).Distinct().Count());
            foreach (var (codeId, hour) in hours)
            {
                CodeIds.Add(codeId);
                Scans += hour.Counts.Scans;
                Throttled += hour.Counts.Throttled;
                foreach (var (key, count) in hour.Dims)
                {
                    _dims[(codeId, key)] = _dims.GetValueOrDefault((codeId, key)) + count.Scans;
                }
            }

            if (LoseNextAnswer)
            {
                LoseNextAnswer = false;
                throw new TimeoutException("connection lost after the commit");
            }

            return Task.FromResult(true);
        }
    }
}
