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

        await WriteSketchesAsync(connection, transaction, sketches, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Stores unique-visitor sketches, replacing what a code-day had (also used by <see cref="RollupRebuild"/>).</summary>
    public static async Task WriteSketchesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<(long CodeId, DateOnly Day, byte[] Sketch)> sketches, CancellationToken cancellationToken)
    {
        if (sketches.Count == 0)
        {
            return;
        }

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
        var (ids, buckets, scans, humans, bots, repeats, throttled) =
            (new long[hours.Count], new DateTimeOffset[hours.Count], new long[hours.Count], new long[hours.Count], new long[hours.Count], new long[hours.Count], new long[hours.Count]);
        var i = 0;
        foreach (var (codeId, hour) in hours)
        {
            (ids[i], buckets[i]) = (codeId, hour.Hour);
            (scans[i], humans[i], bots[i], repeats[i], throttled[i]) = (hour.Counts.Scans, hour.Counts.Humans, hour.Counts.Bots, hour.Counts.Repeats, hour.Counts.Throttled);
            i++;
        }

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
        command.Parameters.Add(new() { Value = ids });
        command.Parameters.Add(new() { Value = buckets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = scans });
        command.Parameters.Add(new() { Value = humans });
        command.Parameters.Add(new() { Value = bots });
        command.Parameters.Add(new() { Value = repeats });
        command.Parameters.Add(new() { Value = throttled });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The dimension rows of every code-hour, sent once as parallel arrays: PostgreSQL upserts them into the hourly
    /// table and sums them by UTC day into the daily one, in one statement. Building the daily rows here (a LINQ
    /// group-by over tuples, then a second set of arrays) was a third of what the silo allocated under a varied
    /// audience, all of it alive until the write ended, so the silo's collections promoted it.
    /// </summary>
    private static async Task WriteDimsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours, CancellationToken cancellationToken)
    {
        var rows = 0;
        foreach (var (_, hour) in hours)
        {
            rows += hour.Dims.Count;
        }

        if (rows == 0)
        {
            return;
        }

        var (ids, buckets, dims, values) = (new long[rows], new DateTimeOffset[rows], new string[rows], new string[rows]);
        var (scans, latitudes, longitudes) = (new long[rows], new double?[rows], new double?[rows]);
        var i = 0;
        foreach (var (codeId, hour) in hours)
        {
            foreach (var (key, count) in hour.Dims)
            {
                (ids[i], buckets[i], dims[i], values[i]) = (codeId, hour.Hour, key.Dim, Clean(key.Value));
                (scans[i], latitudes[i], longitudes[i]) = (count.Scans, count.Latitude, count.Longitude);
                i++;
            }
        }

        // Hour deltas have distinct (code, hour) keys and a delta's dimension keys are distinct, so no INSERT touches
        // a row twice; the daily rows of one code's hours of the same day are summed by the GROUP BY. u is
        // referenced twice, so PostgreSQL evaluates it once.
        await using var command = new NpgsqlCommand("""
            WITH u AS (
                SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::float8[], $7::float8[])
                       AS u (id, hour, dim, value, scans, latitude, longitude)
                 WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = u.id)),
            hourly AS (
                INSERT INTO qr_rollup_dims_hourly AS r (qr_code_id, hour, dim, value, scans, latitude, longitude)
                SELECT * FROM u
                ON CONFLICT (qr_code_id, hour, dim, value) DO UPDATE SET
                    scans     = r.scans + excluded.scans,
                    latitude  = COALESCE(r.latitude, excluded.latitude),
                    longitude = COALESCE(r.longitude, excluded.longitude))
            INSERT INTO qr_rollup_dims_daily AS r (qr_code_id, day, dim, value, scans, latitude, longitude)
            SELECT id, (hour AT TIME ZONE 'UTC')::date, dim, value, sum(scans), min(latitude), min(longitude)
              FROM u GROUP BY id, (hour AT TIME ZONE 'UTC')::date, dim, value
            ON CONFLICT (qr_code_id, day, dim, value) DO UPDATE SET
                scans     = r.scans + excluded.scans,
                latitude  = COALESCE(r.latitude, excluded.latitude),
                longitude = COALESCE(r.longitude, excluded.longitude)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = ids });
        command.Parameters.Add(new() { Value = buckets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = dims });
        command.Parameters.Add(new() { Value = values });
        command.Parameters.Add(new() { Value = scans });
        command.Parameters.Add(new() { Value = latitudes });
        command.Parameters.Add(new() { Value = longitudes });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>PostgreSQL text cannot hold NUL; values come from user agents and the geo database.</summary>
    private static string Clean(string value) => value.Contains('\0') ? value.Replace("\0", string.Empty) : value;
}
