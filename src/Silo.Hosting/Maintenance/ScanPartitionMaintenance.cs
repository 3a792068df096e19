using InvexQr.Data;
using InvexQr.Grains.Protection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// Keeps monthly <c>qr_scans</c> partitions created three months ahead, so scans never land in the
/// default partition. Runs at start-up and every six hours on every silo (the SQL function is
/// idempotent and serialized by an advisory lock). Applies the retention of raw scans
/// (<c>Privacy:RetentionDays</c>) on the same schedule, and forgets old rollup batch ids.
/// </summary>
public sealed class ScanPartitionMaintenance(
    ScanPartitions partitions,
    RollupRepository rollups,
    ScanRetention retention,
    IOptions<PrivacyOptions> privacy,
    TimeProvider clock,
    ILogger<ScanPartitionMaintenance> logger) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromHours(6);

    // A partition that could not be created or dropped (qr_scans busy, or the database down) is tried again sooner.
    private static readonly TimeSpan BusyRetry = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = Period;
            try
            {
                var created = await partitions.EnsureAheadAsync(stoppingToken);
                var result = await retention.ApplyAsync(privacy.Value.RetentionDays, clock.GetUtcNow(), stoppingToken);
                await rollups.ForgetOldFlushesAsync(stoppingToken);
                next = created && result.Busy.Count == 0 ? Period : BusyRetry;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                logger.LogWarning(ex, "Could not create upcoming scan partitions or apply retention; will retry");
                next = BusyRetry;
            }

            try
            {
                await Task.Delay(next, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
