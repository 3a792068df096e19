using System.Diagnostics;
using InvexQr.Grains.Analytics;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The silo-local rollup counter. Code grains tell it what each scan adds (<see cref="Count"/>); it keeps one
/// <see cref="ScanCounters"/> per code scanned recently, in lock stripes, and every <see cref="FlushInterval"/>
/// (longer under load: <see cref="NextInterval"/>) takes what they counted and writes it in one transaction, so
/// thousands of active codes cost one database round trip, not thousands. A code that counted nothing over a whole
/// interval is dropped: idle codes cost nothing. Every write is a merge (sums, register maxima) under a flush id, so
/// a write retried after a lost commit is applied once, and silos writing the same code never overwrite each other.
/// Registered before Orleans, so it stops after the silo and its last flush holds the last scans.
/// </summary>
public sealed class RollupSink : BackgroundService, IRollupSink
{
    // Each flush upserts about ten rows per code scanned since the last one (its hour and its dimension
    // values), however many scans it had: a longer interval merges more. 2 s keeps stats within ~2 s.
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(2);

    // With thousands of codes scanned between two flushes, the upserts cost PostgreSQL about as much as the
    // raw scans. So the pause after a flush grows with what the flush took (FlushLoadFactor times it), up to
    // MaxFlushInterval: the writer spends at most about a ninth of its time on rollups, and stats lag at most ~6 s.
    public static readonly TimeSpan MaxFlushInterval = TimeSpan.FromSeconds(5);
    private const int FlushLoadFactor = 8;
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);
    private const int StripeCount = 64;

    // A batch holds the deltas of at most this many codes (about ten rows each), so that a burst of new codes is
    // written as several bounded transactions, one after the other, instead of one that outlasts the command timeout
    // and is then retried whole, forever, while the counters behind it pile up in memory.
    public const int MaxCodesPerBatch = 2_000;
    private int _nextStripe; // where the next batch starts taking, after a batch that was full

    private readonly Stripe[] _stripes = Enumerable.Range(0, StripeCount).Select(_ => new Stripe()).ToArray();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private RollupBatch? _unwritten; // a batch whose write failed: written again, with its id, before anything new
    private long _batches;
    private long _failures;
    private readonly IRollupStore store;
    private readonly SiloMetrics metrics;
    private readonly TimeProvider clock;
    private readonly ILogger<RollupSink> logger;

    public RollupSink(IRollupStore store, SiloMetrics metrics, TimeProvider clock, ILogger<RollupSink> logger)
    {
        this.store = store;
        this.metrics = metrics;
        this.clock = clock;
        this.logger = logger;
        metrics.ObserveRollupQueue(() => CountingCodes);
    }

    /// <summary>Codes with counters in memory (scanned within the last interval or two, or not yet written).</summary>
    public int CountingCodes
    {
        get
        {
            var count = 0;
            foreach (var stripe in _stripes)
            {
                lock (stripe.Gate)
                {
                    count += stripe.Codes.Count;
                }
            }

            return count;
        }
    }

    public long Batches => Interlocked.Read(ref _batches);

    public long Failures => Interlocked.Read(ref _failures);

    public void Count(long codeId, in ScanFacts scan)
    {
        var stripe = StripeOf(codeId);
        lock (stripe.Gate)
        {
            stripe.CountersOf(codeId).RecordScan(scan);
        }
    }

    public void CountThrottled(long codeId, DateTimeOffset at)
    {
        var stripe = StripeOf(codeId);
        lock (stripe.Gate)
        {
            stripe.CountersOf(codeId).RecordThrottled(at);
        }
    }

    public long UnwrittenScans(long codeId)
    {
        long scans = 0;
        var stripe = StripeOf(codeId);
        lock (stripe.Gate)
        {
            if (stripe.Codes.TryGetValue(codeId, out var counters))
            {
                scans += counters.UntakenScans;
            }
        }

        // A batch whose write failed is written again before anything new (a batch being written is not counted:
        // at worst an activation that races a flush misses its scans, for maxScans a few scans of leeway).
        if (Volatile.Read(ref _unwritten) is { } retry)
        {
            foreach (var (id, hour) in retry.Hours)
            {
                scans += id == codeId ? hour.Counts.Scans : 0;
            }
        }

        return scans;
    }

    /// <summary>Writes everything counted so far, in bounded batches; false when a write failed (that batch is kept and written first next time).</summary>
    public async Task<bool> FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            if (_unwritten is { } retry && !await TryWriteAsync(retry, cancellationToken))
            {
                return false;
            }

            _unwritten = null;
            while (true)
            {
                var (batch, full) = Collect();
                if (batch.IsEmpty)
                {
                    return true;
                }

                if (!await TryWriteAsync(batch, cancellationToken))
                {
                    _unwritten = batch;
                    return false;
                }

                if (!full)
                {
                    return true;
                }
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    private async Task<bool> TryWriteAsync(RollupBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            await store.WriteAsync(batch.Id, batch.Hours, batch.Registers, cancellationToken);
            metrics.RollupFlushed(Stopwatch.GetElapsedTime(started));
            Interlocked.Increment(ref _batches);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping in the middle of this write: the batch is kept, and the last flush (StopAsync)
            // writes it again under its id, which the store skips if the cancelled write had committed after all.
            return false;
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failures);
            metrics.DatabaseError("rollups");
            logger.LogWarning(ex, "Could not write {Rows} rollup rows; keeping them for the next attempt", batch.Hours.Count + batch.Registers.Count);
            return false;
        }
    }

    /// <summary>
    /// Takes what the codes counted since the last flush, merged by (code, hour) and (code, day, register), for at most
    /// <see cref="MaxCodesPerBatch"/> codes; <c>Full</c> when it stopped there and more may be waiting.
    /// </summary>
    private (RollupBatch Batch, bool Full) Collect()
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var hours = new List<(long CodeId, HourDelta Hour)>();
        var registers = new Dictionary<(long CodeId, DateOnly Day, short Register), byte>();
        var taken = 0;
        var full = false;
        for (var visited = 0; visited < StripeCount && !full; visited++)
        {
            var index = (_nextStripe + visited) % StripeCount;
            var stripe = _stripes[index];
            lock (stripe.Gate)
            {
                foreach (var (codeId, counters) in stripe.Codes)
                {
                    if (taken == MaxCodesPerBatch)
                    {
                        // The rest of this stripe goes in the next batch: start there.
                        (full, _nextStripe) = (true, index);
                        break;
                    }

                    if (counters.TakeDelta(codeId, today) is not { } delta)
                    {
                        if (counters.IsIdle)
                        {
                            stripe.Codes.Remove(codeId); // removing while enumerating is allowed
                        }

                        continue;
                    }

                    taken++;
                    foreach (var hour in delta.Hours)
                    {
                        hours.Add((codeId, hour)); // one delta per code: (code, hour) keys are distinct
                    }

                    foreach (var register in delta.Registers)
                    {
                        registers[(codeId, register.Day, register.Register)] = register.Rank;
                    }
                }
            }
        }

        var batch = new RollupBatch(
            Guid.CreateVersion7(),
            hours,
            registers.Select(r => (r.Key.CodeId, new VisitorRegister(r.Key.Day, r.Key.Register, r.Value))).ToList());
        return (batch, full);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FlushInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var started = Stopwatch.GetTimestamp();
            bool written;
            try
            {
                written = await FlushAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break; // waiting for the flush lock when the stop came: StopAsync flushes
            }

            delay = written
                ? NextInterval(Stopwatch.GetElapsedTime(started))
                : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
        }
    }

    /// <summary>The pause after a successful flush that took <paramref name="flushTook"/>.</summary>
    public static TimeSpan NextInterval(TimeSpan flushTook) =>
        TimeSpan.FromTicks(Math.Clamp(flushTook.Ticks * FlushLoadFactor, FlushInterval.Ticks, MaxFlushInterval.Ticks));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Orleans has stopped by now (registered after us): no scan is counted any more.
        while (!await FlushAsync(CancellationToken.None) && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }

        if (_unwritten is not null)
        {
            logger.LogError("Stopping with rollups unwritten; `rollups rebuild` restores them from raw scans");
        }
    }

    private Stripe StripeOf(long codeId) => _stripes[(int)((ulong)codeId % StripeCount)];

    private sealed class Stripe
    {
        public Lock Gate { get; } = new();

        public Dictionary<long, ScanCounters> Codes { get; } = [];

        public ScanCounters CountersOf(long codeId)
        {
            if (!Codes.TryGetValue(codeId, out var counters))
            {
                Codes[codeId] = counters = new ScanCounters();
            }

            return counters;
        }
    }

    private sealed record RollupBatch(Guid Id, List<(long CodeId, HourDelta Hour)> Hours, List<(long CodeId, VisitorRegister Register)> Registers)
    {
        public bool IsEmpty => Hours.Count == 0 && Registers.Count == 0;
    }
}
