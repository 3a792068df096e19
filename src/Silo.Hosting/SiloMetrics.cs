using System.Diagnostics.Metrics;
using InvexQr.ServiceDefaults.Telemetry;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The silo's own instruments (scraped at <c>/metrics</c>): how far the scan sink and the rollup
/// sink are behind, how big and how slow their writes are, and how often the database fails them.
/// The queue gauges are observed at scrape time, so they cost nothing on the scan path.
/// </summary>
public sealed class SiloMetrics
{
    private readonly Meter _meter;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _flushDuration;
    private readonly Histogram<double> _rollupFlushDuration;
    private readonly Counter<long> _written;
    private readonly Counter<long> _dbErrors;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _spooled;
    private readonly Counter<long> _replayed;
    private readonly Counter<long> _spoolFull;

    // The meter provider is taken first so that its listener is on when the zeros below are recorded (GatewayMetrics).
    public SiloMetrics(IMeterFactory meters, OpenTelemetry.Metrics.MeterProvider? listening = null)
    {
        _meter = meters.Create(InvexQrMeters.Silo);
        _batchSize = _meter.CreateHistogram<int>(InvexQrMeters.SinkBatchSize, "{scan}", "Scans per batch written to qr_scans");
        _flushDuration = _meter.CreateHistogram<double>(InvexQrMeters.SinkFlushDuration, "s", "Time to write one batch of scans, retries included");
        _rollupFlushDuration = _meter.CreateHistogram<double>(InvexQrMeters.RollupFlushDuration, "s", "Time to write one rollup flush (one transaction)");
        _written = _meter.CreateCounter<long>(InvexQrMeters.SinkWritten, "{scan}", "Scans written to qr_scans");
        _dbErrors = _meter.CreateCounter<long>(InvexQrMeters.DbErrors, "{error}", "Failed database writes by writer (scans, rollups)");
        _spooled = _meter.CreateCounter<long>(InvexQrMeters.SpoolAppended, "{scan}", "Scans fsynced to the local spool while PostgreSQL was unavailable");
        _replayed = _meter.CreateCounter<long>(InvexQrMeters.SpoolReplayed, "{scan}", "Spooled scans replayed into qr_scans");
        _spoolFull = _meter.CreateCounter<long>(InvexQrMeters.SpoolFull, "{scan}", "Scans that found the spool full and stayed in memory");
        _refused = _meter.CreateCounter<long>(InvexQrMeters.SinkRefused, "{scan}", "Scans refused because the sink was full or stopping (answered 503)");

        // Every series exported at 0 from start: rate() and increase() see the first error, and alerts can tell
        // "none yet" from "not scraped".
        foreach (var counter in new[] { _written, _spooled, _replayed, _spoolFull, _refused })
        {
            counter.Add(0);
        }

        foreach (var writer in Writers)
        {
            _dbErrors.Add(0, new KeyValuePair<string, object?>("writer", writer));
        }
    }

    /// <summary>The <c>writer</c> tags of <see cref="DatabaseError"/>.</summary>
    public static readonly string[] Writers = ["scans", "rollups"];

    public void ObserveScanQueue(Func<long> pending) =>
        _meter.CreateObservableGauge(InvexQrMeters.SinkQueueDepth, pending, "{scan}", "Scans accepted by the scan sink and not yet written or spooled (queued or in a batch being written)");

    public void ObserveSpool(Func<long> scans, Func<long> bytes, long capacity)
    {
        _meter.CreateObservableGauge(InvexQrMeters.SpoolScans, scans, "{scan}", "Scans in the local spool, not yet replayed");
        _meter.CreateObservableGauge(InvexQrMeters.SpoolBytes, bytes, "By", "Bytes the spool takes on disk");
        _meter.CreateObservableGauge(InvexQrMeters.SpoolCapacity, () => capacity, "By", "The spool's bound on disk");
    }

    public void ObserveCpuPressure(Func<double> pressure) =>
        _meter.CreateObservableGauge(InvexQrMeters.CpuPressure, pressure, "1", "Smoothed share of time some task waited for a core (Linux PSI)");

    public void ObserveWebhooks(Func<long> delivered, Func<long> failedAttempts, Func<double> restedSeconds)
    {
        _meter.CreateObservableCounter(InvexQrMeters.WebhookDelivered, delivered, "{event}", "Webhook events delivered (the receiver answered 2xx)");
        _meter.CreateObservableCounter(InvexQrMeters.WebhookFailedAttempts, failedAttempts, "{request}", "Webhook requests that failed and will be retried");
        _meter.CreateObservableCounter(InvexQrMeters.WebhookRested, restedSeconds, "s", "Time webhook delivery workers rested so that scans went first on saturated cores");
    }

    public void Spooled(int scans) => _spooled.Add(scans);

    public void SpoolReplayed(int scans) => _replayed.Add(scans);

    public void SpoolFull(int scans) => _spoolFull.Add(scans);

    public void ObserveRollupQueue(Func<int> pending) =>
        _meter.CreateObservableGauge(InvexQrMeters.RollupPending, pending, "{bucket}", "Rollup buckets merged in memory, not yet written");

    public void RollupFlushed(TimeSpan elapsed) => _rollupFlushDuration.Record(elapsed.TotalSeconds);

    public void BatchWritten(int scans, TimeSpan elapsed)
    {
        _batchSize.Record(scans);
        _flushDuration.Record(elapsed.TotalSeconds);
        _written.Add(scans);
    }

    public void ScanRefused() => _refused.Add(1);

    public void DatabaseError(string writer) => _dbErrors.Add(1, new KeyValuePair<string, object?>("writer", writer));
}
