using System.Diagnostics.Metrics;
using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace InvexQr.UnitTests.Analytics;

/// <summary>
/// A silo stopped while its rollup sink is writing: the write is cancelled with the flush loop, and the counts it
/// carried must still reach the store in the last flush (seen in RollingChangeTests: every code's rollups short by
/// the batch in flight at a silo's stop, while its raw scans were all stored).
/// </summary>
public sealed class RollupSinkStopTests
{
    private static readonly ScanFacts Scan = new(
        DateTimeOffset.UtcNow, false, false, new GeoLocation("FR", "France", null, null, null, null), new ClientInfo("Safari", "iOS", "mobile", false), 42);

    [Fact]
    public async Task A_write_cancelled_by_the_stop_is_written_again_by_the_last_flush()
    {
        var store = new StoreBlockingItsFirstWrite();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var sink = new RollupSink(store, new SiloMetrics(meters), TimeProvider.System, NullLogger<RollupSink>.Instance);
        for (var i = 0; i < 7; i++)
        {
            sink.Count(1, Scan);
        }

        await sink.StartAsync(CancellationToken.None);
        await store.FirstWriteStarted.WaitAsync(TimeSpan.FromSeconds(30)); // the loop's first flush, after 2 s
        sink.Count(2, Scan); // counted while that write hangs

        await sink.StopAsync(CancellationToken.None);

        Assert.True(store.FirstWriteCancelled);
        Assert.Equal(7, store.WrittenScans(1));
        Assert.Equal(1, store.WrittenScans(2));
        // Written again under the same id: a store skips it if the cancelled write had committed after all.
        Assert.Contains(store.Written, w => w.FlushId == store.FirstFlushId && w.CodeId == 1);
    }

    private sealed class StoreBlockingItsFirstWrite : IRollupStore
    {
        private readonly TaskCompletionSource _firstWriteStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _writes;

        public Task FirstWriteStarted => _firstWriteStarted.Task;

        public bool FirstWriteCancelled { get; private set; }

        public Guid FirstFlushId { get; private set; }

        public List<(Guid FlushId, long CodeId, long Scans)> Written { get; } = [];

        public long WrittenScans(long codeId) => Written.Where(w => w.CodeId == codeId).Sum(w => w.Scans);

        public async Task<bool> WriteAsync(
            Guid flushId, IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours,
            IReadOnlyCollection<(long CodeId, VisitorRegister Register)> registers, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _writes) == 1)
            {
                FirstFlushId = flushId;
                _firstWriteStarted.SetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    FirstWriteCancelled = true;
                    throw;
                }
            }

            lock (Written)
            {
                Written.AddRange(hours.Select(h => (flushId, h.CodeId, h.Hour.Counts.Scans)));
            }

            return true;
        }
    }
}
