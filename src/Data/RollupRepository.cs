using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>
/// All SQL that writes the rollup tables, as merges: counters are added, unique-visitor registers are raised to the
/// larger rank. One transaction per batch, arrays unnested server-side. Each batch carries an id recorded in
/// <c>rollup_flushes</c> in the same transaction, so a batch written again after a commit whose outcome was lost is
/// skipped instead of counted twice.
/// </summary>
public sealed class RollupRepository(NpgsqlDataSource dataSource) : IRollupStore
{
    // A batch (RollupSink.MaxCodesPerBatch codes) takes well under a second on a healthy server; on a starved one it
    // may take longer than the data source's 30 s, and a write cut off there is only retried.
    private const int WriteTimeoutSeconds = 120;

    /// <summary>Writes one batch under <paramref name="flushId"/>; false when that batch had been written already. Hour deltas must have distinct (code, hour) keys.</summary>
    public async Task<bool> WriteAsync(
        Guid flushId,
        IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours,
        IReadOnlyCollection<(long CodeId, VisitorRegister Register)> registers,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var record = new NpgsqlCommand(
            "INSERT INTO rollup_flushes (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", connection, transaction))
        {
            record.Parameters.Add(new() { Value = flushId });
            if (await record.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false; // committed before; only its answer was lost
            }
        }

        if (hours.Count > 0)
        {
            await WriteHoursAsync(connection, transaction, hours, cancellationToken);
            await WriteDimsAsync(connection, transaction, hours, cancellationToken);
        }

        await WriteRegistersAsync(connection, transaction, registers, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Raises unique-visitor registers (also used by <see cref="RollupRebuild"/>); keys must be distinct.</summary>
    public static async Task WriteRegistersAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyCollection<(long CodeId, VisitorRegister Register)> registers,
        CancellationToken cancellationToken)
    {
        if (registers.Count == 0)
        {
            return;
        }

        var (ids, days, indexes, ranks) = (new long[registers.Count], new DateOnly[registers.Count], new short[registers.Count], new short[registers.Count]);
        var i = 0;
        foreach (var (codeId, register) in registers)
        {
            (ids[i], days[i], indexes[i], ranks[i]) = (codeId, register.Day, register.Register, register.Rank);
            i++;
        }

        await using var command = new NpgsqlCommand("""
            INSERT INTO qr_rollup_visitor_registers AS r (qr_code_id, day, register, rank)
            SELECT * FROM unnest($1::bigint[], $2::date[], $3::smallint[], $4::smallint[]) AS u (id, day, register, rank)
             WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = u.id)
            ON CONFLICT (qr_code_id, day, register) DO UPDATE SET rank = excluded.rank WHERE r.rank < excluded.rank
            """, connection, transaction) { CommandTimeout = WriteTimeoutSeconds };
        command.Parameters.Add(new() { Value = ids });
        command.Parameters.Add(new() { Value = days });
        command.Parameters.Add(new() { Value = indexes });
        command.Parameters.Add(new() { Value = ranks });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Forgets the ids of batches written more than two days ago: no retry comes that late.</summary>
    public async Task ForgetOldFlushesAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM rollup_flushes WHERE written_at < now() - interval '2 days'");
        await command.ExecuteNonQueryAsync(cancellationToken);
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
            """, connection, transaction) { CommandTimeout = WriteTimeoutSeconds };
        command.Parameters.Add(new() { Value = ids });
        command.Parameters.Add(new() { Value = buckets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = scans });
        command.Parameters.Add(new() { Value = humans });
        command.Parameters.Add(new() { Value = bots });
        command.Parameters.Add(new() { Value = repeats });
        command.Parameters.Add(new() { Value = throttled });
        await command.ExecuteNonQueryAsync(cancellationToken);

        // The codes' lifetime totals, added to as the hours are (after them: writers lock the child tables in the
        // order CodeRepository.DeleteAsync waits for them).
        var lastScans = new DateTimeOffset?[hours.Count];
        i = 0;
        foreach (var (_, hour) in hours)
        {
            lastScans[i++] = hour.Counts.LastScanTicks > 0 ? new DateTimeOffset(hour.Counts.LastScanTicks, TimeSpan.Zero) : null;
        }

        await using var totals = new NpgsqlCommand("""
            INSERT INTO qr_code_totals AS t (qr_code_id, total_scans, last_scan_at)
            SELECT id, sum(scans), max(last_scan) FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS u (id, scans, last_scan)
             WHERE scans > 0 AND EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = u.id)
             GROUP BY id
            ON CONFLICT (qr_code_id) DO UPDATE SET
                total_scans  = t.total_scans + excluded.total_scans,
                last_scan_at = GREATEST(t.last_scan_at, excluded.last_scan_at)
            """, connection, transaction) { CommandTimeout = WriteTimeoutSeconds };
        totals.Parameters.Add(new() { Value = ids });
        totals.Parameters.Add(new() { Value = scans });
        totals.Parameters.Add(new() { Value = lastScans, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        await totals.ExecuteNonQueryAsync(cancellationToken);
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
            """, connection, transaction) { CommandTimeout = WriteTimeoutSeconds };
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
