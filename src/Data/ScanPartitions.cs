using Npgsql;

namespace InvexQr.Data;

/// <summary>Creates the coming monthly <c>qr_scans</c> partitions (the SQL function is idempotent and serialized by an advisory lock).</summary>
public sealed class ScanPartitions(NpgsqlDataSource dataSource, ILogger<ScanPartitions> logger)
{
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
}
