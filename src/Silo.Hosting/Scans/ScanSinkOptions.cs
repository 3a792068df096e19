namespace InvexQr.Silo.Hosting;

/// <summary>The <c>ScanSink</c> configuration section (env <c>ScanSink__BatchSize</c>, ...).</summary>
public sealed class ScanSinkOptions
{
    public const string Section = "ScanSink";

    /// <summary>A batch is written as soon as it has this many scans.</summary>
    public int BatchSize { get; set; } = 5000;

    /// <summary>...or when its first scan has waited this long.</summary>
    public int FlushIntervalMs { get; set; } = 200;

    /// <summary>Scans held in memory at most; beyond it scans are refused (answered 503), never silently dropped.</summary>
    public int QueueCapacity { get; set; } = 1_000_000;

    /// <summary>
    /// Where scans go while PostgreSQL is unavailable (fsynced, replayed when it is back). Empty: a directory
    /// per silo port under the user's local data directory. In a container, a volume of its own.
    /// </summary>
    public string SpoolDirectory { get; set; } = "";

    /// <summary>The spool's bound on disk; beyond it scans wait in memory (<see cref="QueueCapacity"/>). 0 turns the spool off.</summary>
    public long SpoolCapacityBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>When a scan is acknowledged (the 302 sent): see <see cref="ScanDurability"/>.</summary>
    public ScanDurability Durability { get; set; } = ScanDurability.Buffered;
}

/// <summary>The durability contract of a scan.</summary>
public enum ScanDurability
{
    /// <summary>
    /// The 302 is sent at once; the scan is written within <c>FlushIntervalMs</c> (to the spool while PostgreSQL
    /// is down). A crash of the silo (kill -9) loses what it had not written yet.
    /// </summary>
    Buffered,

    /// <summary>
    /// The 302 is sent once the scan's batch is committed in PostgreSQL (group commit: whatever queued
    /// while the previous batch was written goes in the next one, with no lingering). No acknowledged
    /// scan is lost in a crash. While PostgreSQL is down the batch is fsynced to the silo's local spool
    /// instead, and acknowledged from there; with the spool full (or off) scans wait and then answer 503.
    /// </summary>
    Committed,
}
