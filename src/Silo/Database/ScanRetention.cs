using System.Globalization;
using Npgsql;

namespace InvexQr.Silo.Database;

/// <summary>
/// Retention of raw scans: whole monthly partitions whose every scan is older than the cutoff are
/// dropped (instant, no vacuum debt); stray rows in the default partition are deleted. Rollups are
/// kept, so stats for old periods stay available after their raw scans are gone.
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

        var dropped = new List<string>();
        foreach (var partition in partitions.Order(StringComparer.Ordinal))
        {
            var month = DateTime.ParseExact(partition["qr_scans_".Length..], "yyyy_MM", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            if (month.AddMonths(1) > cutoff)
            {
                continue;
            }

            // The name comes from the catalog and matched the pattern above; quoting anyway.
            await using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS \"{partition}\"", connection);
            await drop.ExecuteNonQueryAsync(cancellationToken);
            dropped.Add(partition);
            logger.LogInformation("Retention: dropped scan partition {Partition} (older than {Days} days)", partition, days);
        }

        await using var stray = new NpgsqlCommand("DELETE FROM qr_scans_default WHERE scanned_at < $1", connection);
        stray.Parameters.Add(new() { Value = new DateTimeOffset(cutoff, TimeSpan.Zero), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await stray.ExecuteNonQueryAsync(cancellationToken);
        return dropped;
    }
}
