using InvexQr.Grains.Analytics;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Silo.Database;

/// <summary>
/// All SQL that writes the rollup tables: additive upserts of the counters the code grains hand off
/// (one transaction per batch, arrays unnested server-side), and the unique-visitor sketches.
/// </summary>
public sealed class RollupRepository(NpgsqlDataSource dataSource)
{
    /// <summary>Writes one batch. Hour deltas must have distinct (code, hour) keys.</summary>
    public async Task WriteAsync(
        IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours,
        IReadOnlyCollection<(long CodeId, DateOnly Day, byte[] Sketch)> sketches,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (hours.Count > 0)
        {
            await WriteHoursAsync(connection, transaction, hours, cancellationToken);
            await WriteDimsAsync(connection, transaction, hours, cancellationToken);
        }

        if (sketches.Count > 0)
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO qr_rollup_uniques_daily (qr_code_id, day, sketch)
                SELECT * FROM unnest($1::bigint[], $2::date[], $3::bytea[]) AS u (id, day, sketch)
                 WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = u.id)
                ON CONFLICT (qr_code_id, day) DO UPDATE SET sketch = excluded.sketch
                """, connection, transaction);
            command.Parameters.Add(new() { Value = sketches.Select(s => s.CodeId).ToArray() });
            command.Parameters.Add(new() { Value = sketches.Select(s => s.Day).ToArray() });
            command.Parameters.Add(new() { Value = sketches.Select(s => s.Sketch).ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<HyperLogLog?> LoadSketchAsync(long codeId, DateOnly day, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT sketch FROM qr_rollup_uniques_daily WHERE qr_code_id = $1 AND day = $2");
        command.Parameters.Add(new() { Value = codeId });
        command.Parameters.Add(new() { Value = day });
        return await command.ExecuteScalarAsync(cancellationToken) is byte[] bytes ? HyperLogLog.FromBytes(bytes) : null;
    }

    private static async Task WriteHoursAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO qr_rollup_hourly AS r (qr_code_id, hour, scans, humans, bots, repeats, throttled)
            SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
                   AS u (id, hour, scans, humans, bots, repeats, throttled)
             WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = u.id) -- a code deleted meanwhile leaves nothing behind
            ON CONFLICT (qr_code_id, hour) DO UPDATE SET
                scans     = r.scans + excluded.scans,
                humans    = r.humans + excluded.humans,
                bots      = r.bots + excluded.bots,
                repeats   = r.repeats + excluded.repeats,
                throttled = r.throttled + excluded.throttled
            """, connection, transaction);
        command.Parameters.Add(new() { Value = hours.Select(h => h.CodeId).ToArray() });
        command.Parameters.Add(new() { Value = hours.Select(h => h.Hour.Hour).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = hours.Select(h => h.Hour.Counts.Scans).ToArray() });
        command.Parameters.Add(new() { Value = hours.Select(h => h.Hour.Counts.Humans).ToArray() });
        command.Parameters.Add(new() { Value = hours.Select(h => h.Hour.Counts.Bots).ToArray() });
        command.Parameters.Add(new() { Value = hours.Select(h => h.Hour.Counts.Repeats).ToArray() });
        command.Parameters.Add(new() { Value = hours.Select(h => h.Hour.Counts.Throttled).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task WriteDimsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours, CancellationToken cancellationToken)
    {
        var hourly = hours.SelectMany(h => h.Hour.Dims.Select(d => (h.CodeId, Bucket: h.Hour.Hour, d.Key, d.Value))).ToList();
        if (hourly.Count == 0)
        {
            return;
        }

        // Several hours of one day collapse into one daily row: aggregate here, as one INSERT may not touch a row twice.
        var daily = hourly
            .GroupBy(d => (d.CodeId, Day: DateOnly.FromDateTime(d.Bucket.UtcDateTime), d.Key))
            .Select(g => (g.Key.CodeId, Bucket: g.Key.Day, g.Key.Key, Value: new DimCount
            {
                Scans = g.Sum(x => x.Value.Scans),
                Latitude = g.Select(x => x.Value.Latitude).FirstOrDefault(v => v is not null),
                Longitude = g.Select(x => x.Value.Longitude).FirstOrDefault(v => v is not null),
            }))
            .ToList();

        await UpsertDimsAsync(connection, transaction, "qr_rollup_dims_hourly", "hour", "timestamptz",
            hourly.Select(d => (d.CodeId, (object)d.Bucket, d.Key, d.Value)).ToList(), cancellationToken);
        await UpsertDimsAsync(connection, transaction, "qr_rollup_dims_daily", "day", "date",
            daily.Select(d => (d.CodeId, (object)d.Bucket, d.Key, d.Value)).ToList(), cancellationToken);
    }

    private static async Task UpsertDimsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        string table,
        string bucketColumn,
        string bucketType,
        IReadOnlyList<(long CodeId, object Bucket, DimKey Key, DimCount Count)> rows,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            INSERT INTO {table} AS r (qr_code_id, {bucketColumn}, dim, value, scans, latitude, longitude)
            SELECT * FROM unnest($1::bigint[], $2::{bucketType}[], $3::text[], $4::text[], $5::bigint[], $6::float8[], $7::float8[])
                   AS u (id, bucket, dim, value, scans, latitude, longitude)
             WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = u.id)
            ON CONFLICT (qr_code_id, {bucketColumn}, dim, value) DO UPDATE SET
                scans     = r.scans + excluded.scans,
                latitude  = COALESCE(r.latitude, excluded.latitude),
                longitude = COALESCE(r.longitude, excluded.longitude)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = rows.Select(r => r.CodeId).ToArray() });
        command.Parameters.Add(bucketType == "date"
            ? new() { Value = rows.Select(r => (DateOnly)r.Bucket).ToArray() }
            : new() { Value = rows.Select(r => (DateTimeOffset)r.Bucket).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Key.Dim).ToArray() });
        command.Parameters.Add(new() { Value = rows.Select(r => Clean(r.Key.Value)).ToArray() });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Count.Scans).ToArray() });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Count.Latitude).ToArray() });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Count.Longitude).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>PostgreSQL text cannot hold NUL; values come from user agents and the geo database.</summary>
    private static string Clean(string value) => value.Contains('\0') ? value.Replace("\0", string.Empty) : value;
}
