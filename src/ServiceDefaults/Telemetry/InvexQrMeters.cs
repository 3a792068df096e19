namespace InvexQr.ServiceDefaults.Telemetry;

/// <summary>
/// Names of our meters and instruments, in one place so the processes, the docs and the tests agree.
/// The Prometheus exporter turns dots into underscores and appends the unit and <c>_total</c>:
/// <c>invexqr.scans</c> is scraped as <c>invexqr_scans_total</c>.
/// </summary>
public static class InvexQrMeters
{
    public const string Gateway = "InvexQr.Gateway";
    public const string Silo = "InvexQr.Silo";

    /// <summary>Gateway: scans answered, tagged <c>outcome</c> = redirect | bot | not_found | gone | throttled | unavailable.</summary>
    public const string Scans = "invexqr.scans";

    /// <summary>Gateway: time from request to answer of <c>/r/{code}</c>, in seconds.</summary>
    public const string RedirectDuration = "invexqr.redirect.duration";

    /// <summary>Gateway: scan calls sent again after Orleans rejected them undelivered (a silo just died, a connection re-established).</summary>
    public const string ScanRetries = "invexqr.scan.retries";

    /// <summary>Gateway gauge, seconds since the epoch: when MaxMind built the geolocation database it has loaded.</summary>
    public const string GeoDatabaseBuildTimestamp = "invexqr.geo.database.build_timestamp";

    /// <summary>Gateway: enrichment cache lookups, tagged <c>cache</c> = geo | user_agent and <c>result</c> = hit | miss.</summary>
    public const string EnrichmentCacheLookups = "invexqr.enrichment.cache.lookups";

    /// <summary>Silo: scans accepted by the scan sink and not yet written or spooled (queued, or in the batch being written).</summary>
    public const string SinkQueueDepth = "invexqr.scan_sink.queue_depth";

    /// <summary>Silo: scans refused because the sink's queue was full (<c>ScanSink:QueueCapacity</c>) or the silo stopping; answered 503.</summary>
    public const string SinkRefused = "invexqr.scan_sink.refused";

    /// <summary>Silo: scans written to qr_scans.</summary>
    public const string SinkWritten = "invexqr.scan_sink.written";

    /// <summary>Silo: scans per batch written.</summary>
    public const string SinkBatchSize = "invexqr.scan_sink.batch_size";

    /// <summary>Silo: time to write one batch (including retries), in seconds.</summary>
    public const string SinkFlushDuration = "invexqr.scan_sink.flush";

    /// <summary>Silo: failed database writes, tagged <c>writer</c> = scans | rollups.</summary>
    public const string DbErrors = "invexqr.db.errors";

    /// <summary>Silo: scans in the local spool (written while PostgreSQL was unavailable), not yet replayed.</summary>
    public const string SpoolScans = "invexqr.scan_spool.scans";

    /// <summary>Silo: bytes the spool's segments take on disk.</summary>
    public const string SpoolBytes = "invexqr.scan_spool.bytes";

    /// <summary>Silo: the spool's bound on disk (<c>ScanSink:SpoolCapacityBytes</c>).</summary>
    public const string SpoolCapacity = "invexqr.scan_spool.capacity";

    /// <summary>Silo: scans appended (fsynced) to the spool.</summary>
    public const string SpoolAppended = "invexqr.scan_spool.appended";

    /// <summary>Silo: spooled scans replayed into qr_scans.</summary>
    public const string SpoolReplayed = "invexqr.scan_spool.replayed";

    /// <summary>Silo: scans that found the spool full and stayed in memory (then the queue bound applies).</summary>
    public const string SpoolFull = "invexqr.scan_spool.full";

    /// <summary>Silo: rollup rows (code-hours and dimension rows) merged in memory and not yet written.</summary>
    public const string RollupPending = "invexqr.rollup_sink.pending";

    /// <summary>Silo: time to write one rollup flush (all pending code-hours, dimensions and sketches, one transaction).</summary>
    public const string RollupFlushDuration = "invexqr.rollup_sink.flush";

    /// <summary>Silo: webhook events delivered (the receiver answered 2xx).</summary>
    public const string WebhookDelivered = "invexqr.webhook.delivered";

    /// <summary>Silo: webhook requests that failed (no answer, or not 2xx); each is retried with backoff.</summary>
    public const string WebhookFailedAttempts = "invexqr.webhook.failed_attempts";

    /// <summary>Silo: seconds the delivery workers rested, summed, so that scans went first on saturated cores.</summary>
    public const string WebhookRested = "invexqr.webhook.rested";

    /// <summary>Silo gauge, 0 to 1: the smoothed share of time some task waited for a core (PSI; 0 where the kernel has none).</summary>
    public const string CpuPressure = "invexqr.silo.cpu_pressure";
}
