using InvexQr.Gateway.Hosting;
using InvexQr.Abstractions;

namespace InvexQr.Gateway.Redirects;

/// <summary>
/// Sends a scan to its grain, and sends it again when Orleans says the first message was never
/// delivered: a rejection (<see cref="OrleansMessageRejectionException"/>) comes from the sender or
/// a forwarding silo that could not reach the target — a silo that just died, a connection being
/// re-established — so the grain did not run and the retry cannot count the scan twice. The retry
/// carries the same scan id and time, so even a row written twice would be one row.
/// Not retried: a timeout or <see cref="SiloUnavailableException"/> (the message may have been
/// executed before the silo went away), and a full or stopping sink (<see cref="Grains.Scans.ScanNotRecordedException"/>).
/// </summary>
public static class ScanRetry
{
    /// <summary>Three tries within about half a second: long enough for a reconnection, short enough for a person waiting.</summary>
    private static readonly TimeSpan[] Delays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400)];

    public static async Task<ScanResult> ScanAsync(IQrCodeGrain grain, ScanRequest request, GatewayMetrics metrics, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await grain.Scan(request);
            }
            catch (OrleansMessageRejectionException) when (attempt < Delays.Length && !cancellationToken.IsCancellationRequested)
            {
                metrics.ScanRetried();
                await Task.Delay(Delays[attempt], cancellationToken);
            }
        }
    }
}
