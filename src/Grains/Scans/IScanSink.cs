namespace InvexQr.Grains.Scans;

/// <summary>
/// The silo-local sink that raw scans are handed to. It batches them into PostgreSQL off the
/// grain's turn, so a grain never waits on the database to answer a scan.
/// </summary>
public interface IScanSink
{
    /// <summary>Queues a scan. False when the sink is not accepting (shutting down, or full).</summary>
    bool TryEnqueue(ScanRecord scan);
}
