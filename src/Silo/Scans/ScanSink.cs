using System.Diagnostics;
using System.Threading.Channels;
using InvexQr.Grains.Scans;
using InvexQr.Silo.Database;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace InvexQr.Silo.Scans;

/// <summary>
/// The silo-local scan sink: grains hand it raw scans without waiting; one writer loop batches
/// them into PostgreSQL by size and by time. A failed batch is retried (the scan ids make that
/// idempotent) until it is written. On a graceful stop it refuses new scans and drains what it
/// holds before the process exits — it is registered before Orleans so it stops after the silo.
/// </summary>
public sealed class ScanSink : BackgroundService, IScanSink
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<QueuedScan> _queue;
    private readonly ScanWriter _writer;
    private readonly ScanSinkOptions _options;
    private readonly ILogger<ScanSink> _logger;
    private readonly SiloMetrics _metrics;
    private readonly CancellationTokenSource _giveUp = new();
    private long _written;
    private long _lost;
    private long _rejected;
    private readonly bool _committed;

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
        metrics.ObserveScanQueue(() => Pending);
    }

    /// <summary>Scans queued and not yet written.</summary>
    public int Pending => _queue.Reader.Count;

    /// <summary>Scans the database refused (a bad row, isolated from its batch) since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Scans written since start.</summary>
    public long Written => Interlocked.Read(ref _written);

    public bool TryEnqueue(ScanRecord scan, out Task written)
    {
        var done = _committed ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        written = done?.Task ?? Task.CompletedTask;
        if (_queue.Writer.TryWrite(new QueuedScan(scan, done)))
        {
            return true;
        }

        // Full (the database has been away for long) or stopping: the scan is refused and answered 503.
        _metrics.ScanRefused();
        return false;
    }

    public override void Dispose()
    {
        _giveUp.Dispose();
        base.Dispose();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        _logger.LogInformation("Scan sink draining {Pending} queued scans", Pending);
        await using var registration = cancellationToken.Register(_giveUp.Cancel);
        await base.StopAsync(cancellationToken);
        _logger.LogInformation(
            "Scan sink stopped; {Written} scans written in total, {Lost} not written", Written, Interlocked.Read(ref _lost) + Pending);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The loop ends when the queue is completed (graceful stop) and empty — not on stoppingToken,
        // which fires as soon as the stop begins. Retries are only cut short by _giveUp, when the
        // host's shutdown timeout has run out.
        var batch = new List<QueuedScan>(_options.BatchSize);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            await FillBatchAsync(reader, batch);
            await WriteWithRetryAsync(batch);
            batch.Clear();
        }

        await _writer.DisposeAsync();
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

    private async Task WriteWithRetryAsync(List<QueuedScan> batch)
    {
        var scans = new ScanRecord[batch.Count];
        for (var i = 0; i < scans.Length; i++)
        {
            scans[i] = batch[i].Scan;
        }

        var delay = TimeSpan.FromMilliseconds(100);
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                await _writer.WriteAsync(scans, CancellationToken.None);
                Interlocked.Add(ref _written, batch.Count);
                Complete(batch, null);
                _metrics.BatchWritten(batch.Count, Stopwatch.GetElapsedTime(started));
                return;
            }
            catch (Exception ex) when (ScanWriter.IsCausedByData(ex))
            {
                // Retrying the same rows cannot help: write the good ones, isolate the bad one.
                await WriteIsolatingBadRowsAsync(batch, ex);
                return;
            }
            catch (Exception ex)
            {
                _metrics.DatabaseError("scans");
                if (_giveUp.IsCancellationRequested)
                {
                    _logger.LogError(ex, "Shutdown deadline reached: {Count} scans could not be written", batch.Count + Pending);
                    Interlocked.Add(ref _lost, batch.Count);
                    Complete(batch, new ScanNotRecordedException(batch[0].Scan.CodeId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    return;
                }

                _logger.LogWarning(ex, "Writing {Count} scans failed; retrying in {Delay}", batch.Count, delay);
                await Task.Delay(delay, CancellationToken.None);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    private async Task WriteIsolatingBadRowsAsync(List<QueuedScan> batch, Exception error)
    {
        if (batch.Count == 1)
        {
            _logger.LogError(error, "Scan {ScanId} of code id {CodeId} was rejected by the database and not stored", batch[0].Scan.Id, batch[0].Scan.CodeId);
            Interlocked.Increment(ref _rejected);
            Complete(batch, new ScanNotRecordedException(batch[0].Scan.CodeId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return;
        }

        var half = batch.Count / 2;
        await WriteWithRetryAsync(batch.GetRange(0, half));
        await WriteWithRetryAsync(batch.GetRange(half, batch.Count - half));
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
