using System.Collections.Concurrent;
using System.Diagnostics;
using InvexQr.Grains.Analytics;
using InvexQr.Silo.Database;
using InvexQr.Silo.Hosting;

namespace InvexQr.Silo.Analytics;

/// <summary>
/// The silo-local rollup writer. When it flushes it takes the counters of the active code grains
/// (<see cref="Track"/>; a grain that deactivates hands over what is left with <see cref="Submit"/>),
/// merges them by (code, hour) and writes everything pending in one transaction every
/// <see cref="FlushInterval"/> (longer under load: <see cref="NextInterval"/>), so thousands of active
/// codes cost one database round trip, not thousands. Unique-visitor sketches are taken in turns when thousands
/// changed (<see cref="SketchTurns"/>). A failed write is merged back and retried.
/// Registered before Orleans, so on a graceful stop it writes what the deactivating grains handed over last.
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

    private readonly Lock _lock = new();
    private Dictionary<(long CodeId, DateTimeOffset Hour), HourDelta> _hours = [];
    private Dictionary<(long CodeId, DateOnly Day), byte[]> _sketches = [];
    private readonly ConcurrentDictionary<long, ScanCounters> _tracked = new();
    private long _batches;
    private long _collections; // flushes that took from the tracked grains: whose turn it is to hand over sketches (SketchTurns)
    private long _failures;
    private readonly RollupRepository repository;
    private readonly SiloMetrics metrics;
    private readonly ILogger<RollupSink> logger;

    public RollupSink(RollupRepository repository, SiloMetrics metrics, ILogger<RollupSink> logger)
    {
        this.repository = repository;
        this.metrics = metrics;
        this.logger = logger;
        metrics.ObserveRollupQueue(() => PendingBuckets);
    }

    /// <summary>(code, hour) buckets waiting to be written.</summary>
    public int PendingBuckets
    {
        get
        {
            lock (_lock)
            {
                return _hours.Count + _sketches.Count;
            }
        }
    }

    public long Batches => Interlocked.Read(ref _batches);

    public long Failures => Interlocked.Read(ref _failures);

    public void Submit(RollupDelta delta)
    {
        lock (_lock)
        {
            Merge(delta.CodeId, delta.Hours, delta.Sketches);
        }
    }

    public void Track(long codeId, ScanCounters counters) => _tracked[codeId] = counters;

    public void Untrack(long codeId, ScanCounters counters) =>
        _tracked.TryRemove(new KeyValuePair<long, ScanCounters>(codeId, counters));

    /// <summary>Moves what the tracked grains counted since the last flush into the pending buckets (under <see cref="_lock"/>).</summary>
    private void CollectTracked()
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var changedSketches = 0;
        foreach (var (_, counters) in _tracked)
        {
            changedSketches += counters.HasDirtySketch ? 1 : 0;
        }

        var stride = SketchTurns.Stride(changedSketches);
        var flush = _collections++;
        foreach (var (codeId, counters) in _tracked)
        {
            if (counters.TakeDelta(codeId, today, SketchTurns.Takes(codeId, flush, stride)) is { } delta)
            {
                Merge(delta.CodeId, delta.Hours, delta.Sketches);
            }
        }
    }

    public Task<HyperLogLog?> LoadSketchAsync(long codeId, DateOnly day, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            // A sketch handed over but not yet written is newer than the stored one.
            if (_sketches.TryGetValue((codeId, day), out var pending))
            {
                return Task.FromResult(HyperLogLog.FromBytes(pending));
            }
        }

        return repository.LoadSketchAsync(codeId, day, cancellationToken);
    }

    /// <summary>Writes everything pending now; false when the write failed (it stays pending).</summary>
    public async Task<bool> FlushAsync(CancellationToken cancellationToken)
    {
        Dictionary<(long CodeId, DateTimeOffset Hour), HourDelta> hours;
        Dictionary<(long CodeId, DateOnly Day), byte[]> sketches;
        lock (_lock)
        {
            CollectTracked();
            if (_hours.Count == 0 && _sketches.Count == 0)
            {
                return true;
            }

            (hours, _hours) = (_hours, []);
            (sketches, _sketches) = (_sketches, []);
        }

        try
        {
            var started = Stopwatch.GetTimestamp();
            await repository.WriteAsync(
                hours.Select(h => (h.Key.CodeId, h.Value)).ToList(),
                sketches.Select(s => (s.Key.CodeId, s.Key.Day, s.Value)).ToList(),
                cancellationToken);
            metrics.RollupFlushed(Stopwatch.GetElapsedTime(started));
            Interlocked.Increment(ref _batches);
            return true;
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failures);
            metrics.DatabaseError("rollups");
            logger.LogWarning(ex, "Could not write {Buckets} rollup buckets; keeping them for the next attempt", hours.Count + sketches.Count);
            lock (_lock)
            {
                foreach (var ((codeId, _), hour) in hours)
                {
                    Merge(codeId, [hour], new Dictionary<DateOnly, byte[]>());
                }

                // Sketches handed over since are newer: keep those.
                foreach (var (key, sketch) in sketches)
                {
                    _sketches.TryAdd(key, sketch);
                }
            }

            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FlushInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var started = Stopwatch.GetTimestamp();
            delay = await FlushAsync(stoppingToken)
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
        // Orleans has stopped by now (registered after us): the deactivated grains' last counters are here.
        while (!await FlushAsync(cancellationToken) && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        }

        if (PendingBuckets > 0)
        {
            logger.LogError("Stopping with {Buckets} rollup buckets unwritten; `rollups rebuild` restores them from raw scans", PendingBuckets);
        }
    }

    private void Merge(long codeId, IReadOnlyList<HourDelta> hours, IReadOnlyDictionary<DateOnly, byte[]> sketches)
    {
        foreach (var hour in hours)
        {
            if (_hours.TryGetValue((codeId, hour.Hour), out var pending))
            {
                pending.Add(hour);
            }
            else
            {
                _hours[(codeId, hour.Hour)] = hour;
            }
        }

        foreach (var (day, sketch) in sketches)
        {
            _sketches[(codeId, day)] = sketch;
        }
    }
}
