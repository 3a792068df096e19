using InvexQr.Abstractions;
namespace InvexQr.Grains.Scans;

/// <summary>
/// The silo-local sink that raw scans are handed to. It batches them into PostgreSQL off the
/// grain's turn, so a grain never holds its turn while the database works.
/// </summary>
public interface IScanSink
{
    /// <summary>
    /// Queues a scan; false when the sink is not accepting (shutting down, or full). <paramref name="written"/>
    /// completes when the scan is in PostgreSQL (<c>committed</c> durability) or at once (<c>buffered</c>);
    /// it faults with <see cref="ScanNotRecordedException"/> when the scan could not be written.
    /// </summary>
    bool TryEnqueue(ScanRecord scan, out Task written);
}
