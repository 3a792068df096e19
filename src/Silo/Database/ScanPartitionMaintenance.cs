using InvexQr.Grains.Protection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace InvexQr.Silo.Database;

/// <summary>
/// Keeps monthly <c>qr_scans</c> partitions created three months ahead, so scans never land in the
/// default partition. Runs at start-up and every six hours on every silo (the SQL function is
/// idempotent and serialized by an advisory lock). Applies the retention of raw scans
/// (<c>Privacy:RetentionDays</c>) on the same schedule.
/// </summary>
public sealed class ScanPartitionMaintenance(
    NpgsqlDataSource dataSource,
    ScanRetention retention,
    IOptions<PrivacyOptions> privacy,
    TimeProvider clock,
    ILogger<ScanPartitionMaintenance> logger) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromHours(6);

    // A partition that was busy (ScanRetention.LockTimeout) is tried again sooner than the next period.
    private static readonly TimeSpan BusyRetry = TimeSpan.FromMinutes(5);

    public async Task EnsureAheadAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT invexqr_ensure_scan_partition(now() + make_interval(months => m))
            FROM generate_series(0, 3) AS m
            """);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = Period;
            try
            {
                await EnsureAheadAsync(stoppingToken);
                var result = await retention.ApplyAsync(privacy.Value.RetentionDays, clock.GetUtcNow(), stoppingToken);
                next = result.Busy.Count > 0 ? BusyRetry : Period;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                logger.LogWarning(ex, "Could not create upcoming scan partitions or apply retention; will retry");
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
