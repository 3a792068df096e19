using InvexQr.Abstractions;
using System.Diagnostics;
using System.Threading.Channels;
using InvexQr.Grains.Scans;
using InvexQr.Data;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The silo-local scan sink: grains hand it raw scans without waiting; one writer loop batches
/// them into PostgreSQL by size and by time. When a write fails for want of the database, the
/// batch is fsynced to the local <see cref="ScanSpool"/> instead and acknowledged from there; later
/// batches follow it into the spool (keeping order and not waiting on a database that just failed)
/// while the loop replays the spool, segment by segment with backoff, until it is empty. Replays
/// are idempotent (the scan id is in the primary key). With the spool full or off, a failed batch
/// is retried in memory until written, and the queue's bound turns further scans away (503).
/// On a graceful stop the sink refuses new scans, drains what it holds and replays what it can;
/// it is registered before Orleans so it stops after the silo.
/// </summary>
public sealed class ScanSink : BackgroundService, IScanSink
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<QueuedScan> _queue;
    private readonly ScanWriter _writer;
    private readonly ScanSinkOptions _options;
    private readonly ILogger<ScanSink> _logger;
    private readonly SiloMetrics _metrics;
    private readonly CancellationTokenSource _giveUp = new();
    private readonly bool _committed;
    private ScanSpool? _spool;
    private long _replayAt;
    private TimeSpan _replayDelay = FirstRetryDelay;
    private long _outageStartedAt;
    private long _accepted;
    private long _handled;
    private long _written;
    private long _lost;
    private long _rejected;

    public ScanSink(ScanWriter writer, IOptions<ScanSinkOptions> options, SiloMetrics metrics, ILogger<ScanSink> logger)
    {
        _writer = writer;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
        _committed = _options.Durability == ScanDurability.Committed;
        _queue = Channel.CreateBounded<QueuedScan>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then answers false instead of dropping anything
        });
        metrics.ObserveScanQueue(() => Math.Max(0, Accepted - Handled));
        metrics.ObserveSpool(() => _spool?.Scans ?? 0, () => _spool?.Bytes ?? 0, _options.SpoolCapacityBytes);
    }

    /// <summary>Scans queued in memory and not yet written.</summary>
    public int Pending => _queue.Reader.Count;

    /// <summary>Scans the database refused (a bad row, isolated from its batch) since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Scans written since start.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Scans in the local spool, waiting to be replayed into PostgreSQL.</summary>
    public long Spooled => _spool?.Scans ?? 0;

    /// <summary>Scans taken into the queue since start.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Scans of the queue whose fate is settled: written, spooled, rejected by the database, or given up at shutdown.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    public bool TryEnqueue(ScanRecord scan, out Task written)
    {
        var done = _committed ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        written = done?.Task ?? Task.CompletedTask;
        if (_queue.Writer.TryWrite(new QueuedScan(scan, done)))
        {
            Interlocked.Increment(ref _accepted);
            return true;
        }

        // Full (the database has been away for long and the spool is full or off) or stopping: refused, answered 503.
        _metrics.ScanRefused();
        return false;
    }

    /// <summary>Opens the spool before the silo takes scans: a directory another silo holds stops start-up with a clear message.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.SpoolCapacityBytes > 0)
        {
            var instance = await _writer.ReadInstanceAsync(cancellationToken);
            _spool = ScanSpool.Open(_options.SpoolDirectory, _options.SpoolCapacityBytes, instance, _logger);
            if (_spool.HasPending)
            {
                _outageStartedAt = Stopwatch.GetTimestamp();
            }
        }

        await base.StartAsync(cancellationToken);
    }


    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        _logger.LogInformation("Scan sink draining {Pending} queued scans", Pending);
        await using var registration = cancellationToken.Register(_giveUp.Cancel);
        await base.StopAsync(cancellationToken);
        _logger.LogInformation(
            "Scan sink stopped; {Written} scans written in total, {Lost} not written, {Spooled} in the spool",
            Written, Interlocked.Read(ref _lost) + Pending, _spool?.Scans ?? 0);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The loop ends when the queue is completed (graceful stop) and empty — not on stoppingToken,
        // which fires as soon as the stop begins. Retries are only cut short by _giveUp, when the
        // host's shutdown timeout has run out.
        var batch = new List<QueuedScan>(_options.BatchSize);
        var reader = _queue.Reader;
        while (await WaitForWorkAsync(reader))
        {
            if (_spool is { HasPending: true } && Stopwatch.GetTimestamp() >= _replayAt)
            {
                await ReplayNextSegmentAsync();
            }

            if (reader.Count > 0)
            {
                await FillBatchAsync(reader, batch);
                await WriteAsync(batch);
                Interlocked.Add(ref _handled, batch.Count);
                batch.Clear();
            }
        }

        await ReplayBeforeExitAsync();
        _spool?.Dispose();
        await _writer.DisposeAsync();
    }

    /// <summary>True when there is a queued scan, or a spool replay is due; false once the queue is completed and empty.</summary>
    private async Task<bool> WaitForWorkAsync(ChannelReader<QueuedScan> reader)
    {
        if (_spool is not { HasPending: true })
        {
            return await reader.WaitToReadAsync(CancellationToken.None);
        }

        if (reader.Completion.IsCompleted)
        {
            return false;
        }

        var untilReplay = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), _replayAt);
        if (untilReplay <= TimeSpan.Zero)
        {
            return true;
        }

        using var timer = new CancellationTokenSource(untilReplay);
        try
        {
            return await reader.WaitToReadAsync(timer.Token);
        }
        catch (OperationCanceledException)
        {
            return true; // time to try the replay again
        }
    }

    private async Task FillBatchAsync(ChannelReader<QueuedScan> reader, List<QueuedScan> batch)
    {
        // Committed: callers are waiting, so write what is queued now; more queues up while it is written.
        var lingerMs = _committed ? 0 : _options.FlushIntervalMs;
        var deadline = Stopwatch.GetTimestamp() + (long)(lingerMs / 1000.0 * Stopwatch.Frequency);
        while (true)
        {
            while (batch.Count < _options.BatchSize && reader.TryRead(out var scan))
            {
                batch.Add(scan);
            }

            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (batch.Count >= _options.BatchSize || remaining <= TimeSpan.Zero || reader.Completion.IsCompleted)
            {
                return;
            }

            using var linger = new CancellationTokenSource(remaining);
            try
            {
                if (!await reader.WaitToReadAsync(linger.Token))
                {
                    return; // completed: write what we have
                }
            }
            catch (OperationCanceledException)
            {
                return; // the batch's time is up
            }
        }
    }

    /// <summary>A batch from the queue: to PostgreSQL, else to the spool, else retried in memory until written.</summary>
    private async Task WriteAsync(List<QueuedScan> batch)
    {
        if (_spool is { HasPending: true } && TrySpool(batch))
        {
            return; // catching up: behind what is spooled, and no wait on a database that just failed
        }

        var failure = await TryWriteAsync(batch);
        if (failure is null)
        {
            return;
        }

        _metrics.DatabaseError("scans");
        if (TrySpool(batch))
        {
            _logger.LogWarning(failure, "Writing scans to PostgreSQL failed: spooling them to {Directory} until it is back", _spool!.Directory);
            _outageStartedAt = Stopwatch.GetTimestamp();
            ScheduleReplay(failed: true);
            return;
        }

        await WriteWithRetryAsync(batch, failure);
    }

    /// <summary>One attempt (data errors isolated row by row); null when every row is in, else why not.</summary>
    private async Task<Exception?> TryWriteAsync(List<QueuedScan> batch)
    {
        var scans = ScansOf(batch);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await _writer.WriteAsync(scans, CancellationToken.None);
        }
        catch (Exception ex) when (ScanWriter.IsCausedByData(ex))
        {
            // Retrying the same rows cannot help: write the good ones, isolate the bad one.
            return await WriteIsolatingBadRowsAsync(batch, ex);
        }
        catch (Exception ex)
        {
            return ex;
        }

        Interlocked.Add(ref _written, batch.Count);
        Complete(batch, null);
        _metrics.BatchWritten(batch.Count, Stopwatch.GetElapsedTime(started));
        return null;
    }

    private async Task<Exception?> WriteIsolatingBadRowsAsync(List<QueuedScan> batch, Exception error)
    {
        if (batch.Count == 1)
        {
            _logger.LogError(error, "Scan {ScanId} of code id {CodeId} was rejected by the database and not stored", batch[0].Scan.Id, batch[0].Scan.CodeId);
            Interlocked.Increment(ref _rejected);
            Complete(batch, new ScanNotRecordedException(batch[0].Scan.CodeId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return null;
        }

        var half = batch.Count / 2;
        return await TryWriteAsync(batch.GetRange(0, half)) ?? await TryWriteAsync(batch.GetRange(half, batch.Count - half));
    }

    /// <summary>Without room in the spool: retry in memory until written (or the shutdown deadline).</summary>
    private async Task WriteWithRetryAsync(List<QueuedScan> batch, Exception failure)
    {
        var delay = FirstRetryDelay;
        while (true)
        {
            if (_giveUp.IsCancellationRequested)
            {
                _logger.LogError(failure, "Shutdown deadline reached: {Count} scans could not be written", batch.Count + Pending);
                Interlocked.Add(ref _lost, batch.Count);
                Complete(batch, new ScanNotRecordedException(batch[0].Scan.CodeId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return;
            }

            _logger.LogWarning(failure, "Writing {Count} scans failed and the spool has no room; retrying in {Delay}", batch.Count, delay);
            await Task.Delay(delay, CancellationToken.None);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            if (TrySpool(batch) || await TryWriteAsync(batch) is not { } again)
            {
                return;
            }

            failure = again;
            _metrics.DatabaseError("scans");
        }
    }

    /// <summary>Appends the batch to the spool (fsynced) and acknowledges it; false when there is no spool, no room, or the disk fails.</summary>
    private bool TrySpool(List<QueuedScan> batch)
    {
        if (_spool is null)
        {
            return false;
        }

        var scans = ScansOf(batch);
        try
        {
            if (!_spool.TryAppend(scans))
            {
                _metrics.SpoolFull(batch.Count);
                return false;
            }
        }
        catch (IOException ex)
        {
            _logger.LogError(ex, "The scan spool {Directory} could not be written; {Count} scans stay in memory", _spool.Directory, batch.Count);
            return false;
        }

        _metrics.Spooled(batch.Count);
        Complete(batch, null);
        return true;
    }

    /// <summary>Writes the oldest spool segment to PostgreSQL; on failure, backs off before the next try.</summary>
    private async Task<bool> ReplayNextSegmentAsync()
    {
        var segment = _spool!.Next();
        if (segment is null)
        {
            return true;
        }

        for (var start = 0; start < segment.Scans.Count; start += _options.BatchSize)
        {
            var chunk = new List<QueuedScan>(Math.Min(_options.BatchSize, segment.Scans.Count - start));
            for (var i = start; i < start + chunk.Capacity; i++)
            {
                chunk.Add(new QueuedScan(segment.Scans[i], null));
            }

            if (await TryWriteAsync(chunk) is { } failure)
            {
                // The chunks already written are written again next time: the scan ids make that harmless.
                _metrics.DatabaseError("scans");
                _logger.LogDebug(failure, "Replaying the scan spool failed; next try in {Delay}", _replayDelay);
                ScheduleReplay(failed: true);
                return false;
            }
        }

        _spool.Remove(segment);
        _metrics.SpoolReplayed(segment.Scans.Count);
        ScheduleReplay(failed: false);
        if (!_spool.HasPending)
        {
            _logger.LogInformation(
                "Scan spool replayed: every spooled scan is in PostgreSQL, {Seconds:F1} s after the first failed write",
                Stopwatch.GetElapsedTime(_outageStartedAt).TotalSeconds);
        }

        return true;
    }

    private void ScheduleReplay(bool failed)
    {
        if (failed)
        {
            _replayAt = Stopwatch.GetTimestamp() + (long)(_replayDelay.TotalSeconds * Stopwatch.Frequency);
            _replayDelay = TimeSpan.FromTicks(Math.Min(_replayDelay.Ticks * 2, MaxRetryDelay.Ticks));
        }
        else
        {
            _replayAt = Stopwatch.GetTimestamp();
            _replayDelay = FirstRetryDelay;
        }
    }

    /// <summary>On a graceful stop: replay while PostgreSQL takes it; what it does not stays on disk for the next start.</summary>
    private async Task ReplayBeforeExitAsync()
    {
        while (_spool is { HasPending: true } && !_giveUp.IsCancellationRequested && await ReplayNextSegmentAsync())
        {
        }

        if (_spool is { HasPending: true })
        {
            _logger.LogWarning(
                "{Scans} spooled scans stay in {Directory}: they are written when a silo starts with that spool directory", _spool.Scans, _spool.Directory);
        }
    }

    private static ScanRecord[] ScansOf(List<QueuedScan> batch)
    {
        var scans = new ScanRecord[batch.Count];
        for (var i = 0; i < scans.Length; i++)
        {
            scans[i] = batch[i].Scan;
        }

        return scans;
    }

    private static void Complete(List<QueuedScan> batch, Exception? error)
    {
        foreach (var pending in batch)
        {
            if (pending.Written is null)
            {
                continue;
            }

            if (error is null)
            {
                pending.Written.TrySetResult();
            }
            else
            {
                pending.Written.TrySetException(error);
            }
        }
    }

    /// <summary>A queued scan and, in committed mode, whom to tell when it is written.</summary>
    private readonly record struct QueuedScan(ScanRecord Scan, TaskCompletionSource? Written);
}
