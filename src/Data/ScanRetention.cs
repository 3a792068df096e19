using System.Globalization;
using Npgsql;

namespace InvexQr.Data;

/// <summary>
/// Retention of raw scans: whole monthly partitions whose every scan is older than the cutoff are
/// dropped (instant, no vacuum debt); stray rows in the default partition are deleted. Rollups are
/// kept, so stats for old periods stay available after their raw scans are gone; the point before which raw
/// scans are incomplete is recorded (<c>scan_retention_horizon</c>) so that <see cref="RollupRebuild"/> leaves
/// those rollups alone.
/// </summary>
public sealed class ScanRetention(NpgsqlDataSource dataSource, ILogger<ScanRetention> logger)
{
    /// <summary>How long a partition's drop may wait for qr_scans before it is left for the next attempt.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Drops what is older than <paramref name="days"/> days; says which partitions were dropped and which were busy.</summary>
    public async Task<RetentionResult> ApplyAsync(int days, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (days <= 0)
        {
            return RetentionResult.Nothing;
        }

        var cutoff = now.UtcDateTime.AddDays(-days);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var partitions = new List<string>();
        await using (var list = new NpgsqlCommand("""
            SELECT c.relname FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'qr_scans'::regclass AND c.relname ~ '^qr_scans_[0-9]{4}_[0-9]{2}$'
            """, connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                partitions.Add(reader.GetString(0));
            }
        }

        // Whole months entirely older than the cutoff, and the stray rows older than it.
        var old = new List<(string Name, DateTime End)>();
        foreach (var partition in partitions.Order(StringComparer.Ordinal))
        {
            var month = DateTime.ParseExact(partition["qr_scans_".Length..], "yyyy_MM", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            if (month.AddMonths(1) <= cutoff)
            {
                old.Add((partition, month.AddMonths(1)));
            }
        }

        var cutoffParameter = new NpgsqlParameter { Value = new DateTimeOffset(cutoff, TimeSpan.Zero), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz };
        await using var strays = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM qr_scans_default WHERE scanned_at < $1)", connection) { Parameters = { cutoffParameter } };
        var hasStrays = (bool)(await strays.ExecuteScalarAsync(cancellationToken))!;
        if (old.Count == 0 && !hasStrays)
        {
            return RetentionResult.Nothing;
        }

        // First the horizon, then the drop: raw scans before it are no longer all there, so `rollups rebuild` must
        // not recompute those periods from them. A crash in between leaves a horizon ahead of the drop: safe.
        await using (var record = new NpgsqlCommand("""
            INSERT INTO scan_retention_horizon (id, raw_scans_from) VALUES (1, $1)
            ON CONFLICT (id) DO UPDATE SET raw_scans_from = GREATEST(scan_retention_horizon.raw_scans_from, EXCLUDED.raw_scans_from)
            """, connection))
        {
            var horizon = hasStrays ? cutoff : old.Max(p => p.End);
            record.Parameters.Add(new() { Value = new DateTimeOffset(horizon, TimeSpan.Zero), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        var (dropped, busy) = (new List<string>(), new List<string>());
        foreach (var (partition, _) in old)
        {
            // Dropping a partition needs an exclusive lock on qr_scans itself, and while the drop waits for it every
            // new statement on qr_scans (the scan writers' inserts included) queues behind it. A long reader (a CSV
            // export, a rebuild) would hold all scan writing for as long as it runs: give up after LockTimeout and
            // try again later instead. The name comes from the catalog and matched the pattern above; quoting anyway.
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var drop = new NpgsqlCommand(
                $"SET LOCAL lock_timeout = '{(int)LockTimeout.TotalMilliseconds}ms'; DROP TABLE IF EXISTS \"{partition}\"", connection, transaction);
            try
            {
                await drop.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                await transaction.RollbackAsync(cancellationToken);
                busy.Add(partition);
                logger.LogWarning("Retention: scan partition {Partition} is in use (qr_scans busy for more than {Timeout} s); will retry", partition, LockTimeout.TotalSeconds);
                continue;
            }

            dropped.Add(partition);
            logger.LogInformation("Retention: dropped scan partition {Partition} (older than {Days} days)", partition, days);
        }

        await using var stray = new NpgsqlCommand("DELETE FROM qr_scans_default WHERE scanned_at < $1", connection) { Parameters = { cutoffParameter.Clone() } };
        await stray.ExecuteNonQueryAsync(cancellationToken);
        // Scan events still waiting for an endpoint (one failing for that long) carry their scan's data: they go with the
        // scans. A row whose first scan is past the cutoff goes whole (its last ones are at most seconds newer).
        await using var events = new NpgsqlCommand(
            "DELETE FROM webhook_outbox WHERE scan_data IS NOT NULL AND occurred_at < $1", connection) { Parameters = { cutoffParameter.Clone() } };
        await events.ExecuteNonQueryAsync(cancellationToken);
        return new RetentionResult(dropped, busy);
    }
}

/// <summary>The partitions retention dropped, and those it left because qr_scans stayed busy longer than its lock timeout.</summary>
public sealed record RetentionResult(IReadOnlyList<string> Dropped, IReadOnlyList<string> Busy)
{
    public static readonly RetentionResult Nothing = new([], []);
}
