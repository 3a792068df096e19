namespace InvexQr.Silo.Scans;

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
}
