using InvexQr.Abstractions;
using System.Runtime.CompilerServices;
using InvexQr.Grains.Analytics;
using Npgsql;

namespace InvexQr.Data;

/// <summary>
/// Raw scans are the source of truth; this rebuilds the rollups from them and reports where the two
/// disagree. Scope: one code or all, whole UTC days [from, to), never before the point where retention
/// has dropped raw scans (<see cref="FirstCompleteDayAsync"/>): the rollups of those days are all that is
/// left of their scans. Not rebuilt: <c>throttled</c> (throttled requests have no raw row). The unique-visitor
/// registers are rebuilt from the raw scans' visitor hashes, the very values the grains counted.
/// Rebuild closed periods: scans of the current hour not yet written by the silos' rollup sinks would be counted twice.
/// </summary>
public sealed class RollupRebuild(NpgsqlDataSource dataSource)
{
    /// <summary>Rollup rows computed from qr_scans, one SELECT per dimension; the same keys the grains count by.</summary>
    private const string RawDims = """
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC') AS hour, 'country' AS dim, coalesce(country_code, 'unknown') AS value,
               count(*) AS scans, NULL::float8 AS latitude, NULL::float8 AS longitude
          FROM qr_scans WHERE {0} GROUP BY 1, 2, 4
        UNION ALL
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC'), 'city', coalesce(country_code, '') || '|' || city,
               count(*), max(latitude), max(longitude)
          FROM qr_scans WHERE {0} AND city IS NOT NULL GROUP BY 1, 2, 4
        UNION ALL
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC'), 'device', coalesce(device_type, 'unknown'), count(*), NULL, NULL
          FROM qr_scans WHERE {0} GROUP BY 1, 2, 4
        UNION ALL
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC'), 'os', coalesce(os, 'unknown'), count(*), NULL, NULL
          FROM qr_scans WHERE {0} GROUP BY 1, 2, 4
        UNION ALL
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC'), 'browser', coalesce(browser, 'unknown'), count(*), NULL, NULL
          FROM qr_scans WHERE {0} GROUP BY 1, 2, 4
        UNION ALL
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC'), 'route', route, count(*), NULL, NULL
          FROM qr_scans WHERE {0} AND route IS NOT NULL GROUP BY 1, 2, 4
        """;

    private const string RawHours = """
        SELECT qr_code_id, date_trunc('hour', scanned_at, 'UTC') AS hour, count(*) AS scans,
               count(*) FILTER (WHERE NOT is_bot) AS humans, count(*) FILTER (WHERE is_bot) AS bots,
               count(*) FILTER (WHERE is_repeat AND NOT is_bot) AS repeats
          FROM qr_scans WHERE {0} GROUP BY 1, 2
        """;

    private const string ScanScope = "($1::bigint IS NULL OR qr_code_id = $1) AND scanned_at >= $2 AND scanned_at < $3";
    private const string HourScope = "($1::bigint IS NULL OR qr_code_id = $1) AND hour >= $2 AND hour < $3";
    private const string DayScope = "day >= ($2 AT TIME ZONE 'UTC')::date AND day < ($3 AT TIME ZONE 'UTC')::date";

    public async Task<long?> CodeIdAsync(string code, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM qr_codes WHERE code = $1");
        command.Parameters.Add(new() { Value = code });
        return await command.ExecuteScalarAsync(cancellationToken) as long?;
    }

    /// <summary>
    /// The first day whose raw scans are all still there: <paramref name="from"/>, or later when retention has dropped
    /// raw scans up to a later point (<c>scan_retention_horizon</c>).
    /// </summary>
    public async Task<DateOnly> FirstCompleteDayAsync(DateOnly from, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT raw_scans_from FROM scan_retention_horizon WHERE id = 1");
        if (await command.ExecuteScalarAsync(cancellationToken) is not DateTime horizon)
        {
            return from;
        }

        var day = DateOnly.FromDateTime(horizon.ToUniversalTime());
        day = horizon.ToUniversalTime().TimeOfDay == TimeSpan.Zero ? day : day.AddDays(1);
        return day > from ? day : from;
    }

    /// <summary>
    /// Replaces the scope's rollups with counts from raw scans, and its sketches with sketches of their visitor
    /// hashes; returns the hourly rows and the sketches written. The scope starts at <see cref="FirstCompleteDayAsync"/>.
    /// </summary>
    public async Task<(int Hours, int Sketches)> RebuildAsync(long? codeId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        from = await FirstCompleteDayAsync(from, cancellationToken);
        if (from >= to)
        {
            return (0, 0);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var statements = new[]
        {
            $"UPDATE qr_rollup_hourly SET scans = 0, humans = 0, bots = 0, repeats = 0 WHERE {HourScope}",
            $"""
            INSERT INTO qr_rollup_hourly AS r (qr_code_id, hour, scans, humans, bots, repeats)
            SELECT * FROM ({string.Format(RawHours, ScanScope)}) raw
            ON CONFLICT (qr_code_id, hour) DO UPDATE SET
                scans = excluded.scans, humans = excluded.humans, bots = excluded.bots, repeats = excluded.repeats
            """,
            // Lifetime totals of the codes in scope follow their hourly counters (all time: rebuilt days included).
            $"""
            INSERT INTO qr_code_totals AS t (qr_code_id, total_scans, last_scan_at)
            SELECT h.qr_code_id, sum(h.scans),
                   (SELECT max(s.scanned_at) FROM qr_scans s WHERE s.qr_code_id = h.qr_code_id AND s.scanned_at >= max(h.hour))
              FROM qr_rollup_hourly h
             WHERE h.qr_code_id IN (SELECT qr_code_id FROM qr_rollup_hourly WHERE {HourScope})
             GROUP BY h.qr_code_id
            ON CONFLICT (qr_code_id) DO UPDATE SET
                total_scans = excluded.total_scans, last_scan_at = GREATEST(t.last_scan_at, excluded.last_scan_at)
            """,
            $"DELETE FROM qr_rollup_dims_hourly WHERE {HourScope}",
            $"""
            INSERT INTO qr_rollup_dims_hourly (qr_code_id, hour, dim, value, scans, latitude, longitude)
            {string.Format(RawDims, ScanScope)}
            """,
            $"DELETE FROM qr_rollup_dims_daily WHERE ($1::bigint IS NULL OR qr_code_id = $1) AND {DayScope}",
            $"""
            INSERT INTO qr_rollup_dims_daily (qr_code_id, day, dim, value, scans, latitude, longitude)
            SELECT qr_code_id, (hour AT TIME ZONE 'UTC')::date, dim, value, sum(scans), max(latitude), max(longitude)
              FROM qr_rollup_dims_hourly WHERE {HourScope}
             GROUP BY 1, 2, 3, 4
            """,
        };
        var hours = 0;
        for (var i = 0; i < statements.Length; i++)
        {
            await using var command = new NpgsqlCommand(statements[i], connection, transaction) { CommandTimeout = 0 };
            AddScope(command, codeId, from, to);
            var rows = await command.ExecuteNonQueryAsync(cancellationToken);
            hours = i == 1 ? rows : hours; // the INSERT of hourly counters
        }

        var sketches = await RebuildSketchesAsync(connection, transaction, codeId, from, to, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (hours, sketches);
    }

    /// <summary>
    /// The registers of one sketch per code and UTC day from the visitor hashes of its human scans (opted-out scans have
    /// none), the hashes the grains counted when the scans were made: no salt is needed to rebuild them.
    /// </summary>
    private async Task<int> RebuildSketchesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long? codeId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        await using (var delete = new NpgsqlCommand(
            $"DELETE FROM qr_rollup_visitor_registers WHERE ($1::bigint IS NULL OR qr_code_id = $1) AND {DayScope}", connection, transaction))
        {
            AddScope(delete, codeId, from, to);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        // Read on a connection of their own while this one writes, one sketch in memory at a time; written in chunks.
        var chunk = new List<(long CodeId, VisitorRegister Register)>();
        var sketches = 0;
        await foreach (var (code, day, sketch) in RawSketchesAsync(codeId, from, to, cancellationToken))
        {
            sketches++;
            foreach (var (register, rank) in sketch.NonZeroRegisters())
            {
                chunk.Add((code, new VisitorRegister(day, (short)register, rank)));
            }

            if (chunk.Count >= 20_000)
            {
                await RollupRepository.WriteRegistersAsync(connection, transaction, chunk, cancellationToken);
                chunk = [];
            }
        }

        await RollupRepository.WriteRegistersAsync(connection, transaction, chunk, cancellationToken);
        return sketches;
    }

    /// <summary>The sketch of each code and UTC day in scope from its raw scans, in (code, day) order.</summary>
    private async IAsyncEnumerable<(long Code, DateOnly Day, HyperLogLog Sketch)> RawSketchesAsync(
        long? codeId, DateOnly from, DateOnly to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var read = new NpgsqlCommand($"""
            SELECT qr_code_id, (scanned_at AT TIME ZONE 'UTC')::date, visitor_hash
              FROM qr_scans WHERE {ScanScope} AND NOT is_bot AND visitor_hash IS NOT NULL
             ORDER BY qr_code_id, scanned_at
            """, connection) { CommandTimeout = 0 };
        AddScope(read, codeId, from, to);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        (long Code, DateOnly Day, HyperLogLog Sketch)? current = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var (code, day) = (reader.GetInt64(0), reader.GetFieldValue<DateOnly>(1));
            if (current is not { } open || open.Code != code || open.Day != day)
            {
                if (current is { } done)
                {
                    yield return done;
                }

                current = (code, day, new HyperLogLog());
            }

            current.Value.Sketch.Add(unchecked((ulong)reader.GetInt64(2)));
        }

        if (current is { } last)
        {
            yield return last;
        }
    }

    /// <summary>
    /// Code-days whose stored sketch is not the sketch of their raw scans (a sketch lost in a crash, or a scan counted
    /// whose row was lost): both streams in (code, day) order, merged, so memory stays one sketch whatever the scope.
    /// </summary>
    private async Task CompareSketchesAsync(long? codeId, DateOnly from, DateOnly to, List<string> differences, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT qr_code_id, day, array_agg(register), array_agg(rank) FROM qr_rollup_visitor_registers
             WHERE ($1::bigint IS NULL OR qr_code_id = $1) AND {DayScope}
             GROUP BY qr_code_id, day ORDER BY qr_code_id, day
            """, connection) { CommandTimeout = 0 };
        AddScope(command, codeId, from, to);
        await using var stored = await command.ExecuteReaderAsync(cancellationToken);
        var hasStored = await stored.ReadAsync(cancellationToken);
        (long Code, DateOnly Day) StoredKey() => (stored.GetInt64(0), stored.GetFieldValue<DateOnly>(1));
        HyperLogLog StoredSketch() => HyperLogLog.FromRegisters(
            stored.GetFieldValue<short[]>(2).Zip(stored.GetFieldValue<short[]>(3), (register, rank) => ((int)register, (byte)rank)));
        long StoredEstimate() => StoredSketch().Estimate();
        void Report((long Code, DateOnly Day) key, long rollup, long raw) =>
            differences.Add($"uniques {key.Code} {key.Day:yyyy-MM-dd}: rollup ~{rollup} raw ~{raw} (sketches differ)");

        await foreach (var (code, day, raw) in RawSketchesAsync(codeId, from, to, cancellationToken))
        {
            while (hasStored && differences.Count < limit && StoredKey().CompareTo((code, day)) < 0)
            {
                Report(StoredKey(), StoredEstimate(), 0);
                hasStored = await stored.ReadAsync(cancellationToken);
            }

            if (hasStored && StoredKey() == (code, day))
            {
                if (!StoredSketch().ToBytes().AsSpan().SequenceEqual(raw.ToBytes()))
                {
                    Report((code, day), StoredEstimate(), raw.Estimate());
                }

                hasStored = await stored.ReadAsync(cancellationToken);
            }
            else
            {
                Report((code, day), 0, raw.Estimate());
            }

            if (differences.Count >= limit)
            {
                return;
            }
        }

        while (hasStored && differences.Count < limit)
        {
            Report(StoredKey(), StoredEstimate(), 0);
            hasStored = await stored.ReadAsync(cancellationToken);
        }
    }

    /// <summary>Rows where rollups and raw scans disagree (hour counters, hourly breakdowns, then daily unique-visitor sketches), at most <paramref name="limit"/>.</summary>
    public async Task<List<string>> ReconcileAsync(long? codeId, DateOnly from, DateOnly to, int limit, CancellationToken cancellationToken)
    {
        from = await FirstCompleteDayAsync(from, cancellationToken);
        if (from >= to)
        {
            return [];
        }

        var sql = $"""
            SELECT 'hour ' || coalesce(r.qr_code_id, w.qr_code_id) || ' ' || coalesce(r.hour, w.hour)
                   || ': rollup ' || coalesce(r.scans, 0) || '/' || coalesce(r.humans, 0) || '/' || coalesce(r.bots, 0) || '/' || coalesce(r.repeats, 0)
                   || ' raw ' || coalesce(w.scans, 0) || '/' || coalesce(w.humans, 0) || '/' || coalesce(w.bots, 0) || '/' || coalesce(w.repeats, 0)
              FROM (SELECT * FROM qr_rollup_hourly WHERE {HourScope} AND scans > 0) r
              FULL JOIN ({string.Format(RawHours, ScanScope)}) w ON w.qr_code_id = r.qr_code_id AND w.hour = r.hour
             WHERE (r.scans, r.humans, r.bots, r.repeats) IS DISTINCT FROM (w.scans, w.humans, w.bots, w.repeats)
            UNION ALL
            SELECT 'dim ' || coalesce(r.qr_code_id, w.qr_code_id) || ' ' || coalesce(r.hour, w.hour) || ' ' || coalesce(r.dim, w.dim)
                   || '=' || coalesce(r.value, w.value) || ': rollup ' || coalesce(r.scans, 0) || ' raw ' || coalesce(w.scans, 0)
              FROM (SELECT * FROM qr_rollup_dims_hourly WHERE {HourScope}) r
              FULL JOIN ({string.Format(RawDims, ScanScope)}) w
                ON w.qr_code_id = r.qr_code_id AND w.hour = r.hour AND w.dim = r.dim AND w.value = r.value
             WHERE r.scans IS DISTINCT FROM w.scans
            UNION ALL
            SELECT 'total ' || h.qr_code_id || ': ' || coalesce(t.total_scans, 0) || ' stored, hourly rollups ' || h.scans
              FROM (SELECT qr_code_id, sum(scans) AS scans FROM qr_rollup_hourly
                     WHERE qr_code_id IN (SELECT qr_code_id FROM qr_rollup_hourly WHERE {HourScope}) GROUP BY 1) h
              LEFT JOIN qr_code_totals t ON t.qr_code_id = h.qr_code_id
             WHERE coalesce(t.total_scans, 0) <> h.scans
            LIMIT {limit}
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = 0;
        AddScope(command, codeId, from, to);
        var differences = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            differences.Add(reader.GetString(0));
        }

        if (differences.Count < limit)
        {
            await CompareSketchesAsync(codeId, from, to, differences, limit, cancellationToken);
        }

        return differences;
    }

    private static void AddScope(NpgsqlCommand command, long? codeId, DateOnly from, DateOnly to)
    {
        command.Parameters.Add(new() { Value = (object?)codeId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = new DateTimeOffset(to.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
    }
}
