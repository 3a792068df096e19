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

    // A partition that could not be created or dropped (qr_scans busy, or the database down) is tried again sooner.
    private static readonly TimeSpan BusyRetry = TimeSpan.FromMinutes(5);

    /// <summary>False when qr_scans stayed busy: creating a partition locks it exclusively, like retention's drop.</summary>
    public async Task<bool> EnsureAheadAsync(CancellationToken cancellationToken)
    {
        // Scan writes queue behind a waiting CREATE … PARTITION OF: wait at most as long as retention does (three
        // months ahead, a later attempt is soon enough).
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SET LOCAL lock_timeout = '{(int)ScanRetention.LockTimeout.TotalMilliseconds}ms';
            SELECT invexqr_ensure_scan_partition(now() + make_interval(months => m))
            FROM generate_series(0, 3) AS m
            """, connection, transaction);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            await transaction.RollbackAsync(cancellationToken);
            logger.LogWarning("Upcoming scan partitions not created: qr_scans busy for more than {Timeout} s; will retry", ScanRetention.LockTimeout.TotalSeconds);
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = Period;
            try
            {
                var created = await EnsureAheadAsync(stoppingToken);
                var result = await retention.ApplyAsync(privacy.Value.RetentionDays, clock.GetUtcNow(), stoppingToken);
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
