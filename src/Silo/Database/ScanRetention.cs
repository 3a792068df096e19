using System.Globalization;
using Npgsql;

namespace InvexQr.Silo.Database;

/// <summary>
/// Retention of raw scans: whole monthly partitions whose every scan is older than the cutoff are
/// dropped (instant, no vacuum debt); stray rows in the default partition are deleted. Rollups are
/// kept, so stats for old periods stay available after their raw scans are gone; the point before which raw
/// scans are incomplete is recorded (<c>scan_retention_horizon</c>) so that <see cref="RollupRebuild"/> leaves
/// those rollups alone.
/// </summary>
public sealed class ScanRetention(NpgsqlDataSource dataSource, ILogger<ScanRetention> logger)
{
    /// <summary>Drops what is older than <paramref name="days"/> days; returns the partitions dropped.</summary>
    public async Task<IReadOnlyList<string>> ApplyAsync(int days, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (days <= 0)
        {
            return [];
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
            return [];
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

        var dropped = new List<string>();
        foreach (var (partition, _) in old)
        {
            // The name comes from the catalog and matched the pattern above; quoting anyway.
            await using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS \"{partition}\"", connection);
            await drop.ExecuteNonQueryAsync(cancellationToken);
            dropped.Add(partition);
            logger.LogInformation("Retention: dropped scan partition {Partition} (older than {Days} days)", partition, days);
        }

        await using var stray = new NpgsqlCommand("DELETE FROM qr_scans_default WHERE scanned_at < $1", connection) { Parameters = { cutoffParameter.Clone() } };
        await stray.ExecuteNonQueryAsync(cancellationToken);
        return dropped;
    }
}
