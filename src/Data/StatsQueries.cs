using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>
/// All SQL behind the stats API. Reads rollups only (never raw scans), in one round trip: an
/// <see cref="NpgsqlBatch"/> of five statements over the hourly/daily rollup tables.
/// </summary>
public sealed class StatsQueries(NpgsqlDataSource dataSource)
{
    /// <summary>The id of <paramref name="code"/> if <paramref name="ownerId"/> owns it; otherwise null (404 either way).</summary>
    public async Task<long?> FindOwnedCodeIdAsync(string code, long ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM qr_codes WHERE code = $1 AND owner_id = $2");
        command.Parameters.Add(new() { Value = code });
        command.Parameters.Add(new() { Value = ownerId });
        return await command.ExecuteScalarAsync(cancellationToken) is long id ? id : null;
    }

    /// <summary>Ids and codes of all the owner's codes (for the account-wide summary).</summary>
    public async Task<Dictionary<long, string>> OwnedCodesAsync(long ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, code FROM qr_codes WHERE owner_id = $1");
        command.Parameters.Add(new() { Value = ownerId });
        var codes = new Dictionary<long, string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            codes[reader.GetInt64(0)] = reader.GetString(1);
        }

        return codes;
    }

    public async Task<StatsData> QueryAsync(long[] codeIds, StatsPeriod period, CancellationToken cancellationToken)
    {
        // Breakdowns: whole UTC days inside the period from the daily table, the ragged edges from the hourly one.
        var firstFullDay = CeilingToDay(period.From);
        var lastFullDayEnd = FloorToDay(period.To);
        var hasFullDays = firstFullDay < lastFullDayEnd;
        var (edge1From, edge1To, edge2From, edge2To) = hasFullDays
            ? (period.From, firstFullDay, lastFullDayEnd, period.To)
            : (period.From, period.To, period.To, period.To);

        // Five reads in one round trip on one connection. (Running them on five connections at once was
        // measured on a code with 10 million scans and bought nothing: the cost was one query's plan.)
        var data = new StatsData();
        var reads = new (NpgsqlBatchCommand Query, Action<NpgsqlDataReader> Row)[]
        {
            (Command("""
                SELECT date_trunc($4, hour AT TIME ZONE $5), sum(scans), sum(humans), sum(bots), sum(repeats), sum(throttled)
                  FROM qr_rollup_hourly
                 WHERE qr_code_id = ANY($1) AND hour >= $2 AND hour < $3
                 GROUP BY 1
                """, codeIds, period.From, period.To, period.Granularity, period.TimeZone.Id), reader =>
            {
                data.Series[reader.GetDateTime(0)] = new HourCounts
                {
                    Scans = reader.GetInt64(1), Humans = reader.GetInt64(2), Bots = reader.GetInt64(3),
                    Repeats = reader.GetInt64(4), Throttled = reader.GetInt64(5),
                };
            }),
            (Command("""
                SELECT extract(isodow FROM hour AT TIME ZONE $4)::int, extract(hour FROM hour AT TIME ZONE $4)::int, sum(scans)
                  FROM qr_rollup_hourly
                 WHERE qr_code_id = ANY($1) AND hour >= $2 AND hour < $3
                 GROUP BY 1, 2
                """, codeIds, period.From, period.To, period.TimeZone.Id),
                reader => data.PeakHours[reader.GetInt32(0) - 1, reader.GetInt32(1)] = reader.GetInt64(2)),
            (Command("""
                SELECT dim, value, sum(scans), max(latitude), max(longitude) FROM (
                    SELECT dim, value, scans, latitude, longitude FROM qr_rollup_dims_daily
                     WHERE qr_code_id = ANY($1) AND day >= $2 AND day < $3
                    -- The two ragged edges as two ranges: an OR of both made PostgreSQL read every hourly row of the code.
                    UNION ALL
                    SELECT dim, value, scans, latitude, longitude FROM qr_rollup_dims_hourly
                     WHERE qr_code_id = ANY($1) AND hour >= $4 AND hour < $5
                    UNION ALL
                    SELECT dim, value, scans, latitude, longitude FROM qr_rollup_dims_hourly
                     WHERE qr_code_id = ANY($1) AND hour >= $6 AND hour < $7
                ) d
                 GROUP BY dim, value
                """,
                codeIds,
                DateOnly.FromDateTime(firstFullDay.UtcDateTime),
                hasFullDays ? DateOnly.FromDateTime(lastFullDayEnd.UtcDateTime) : DateOnly.FromDateTime(firstFullDay.UtcDateTime),
                edge1From, edge1To, edge2From, edge2To), reader => data.Dims.Add(new DimRow(
                    reader.GetString(0), reader.GetString(1), reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : reader.GetDouble(3), reader.IsDBNull(4) ? null : reader.GetDouble(4)))),
            (Command("""
                SELECT register, max(rank) FROM qr_rollup_visitor_registers
                 WHERE qr_code_id = ANY($1) AND day >= $2 AND day <= $3
                 GROUP BY register
                """, codeIds, DateOnly.FromDateTime(period.From.UtcDateTime), DateOnly.FromDateTime(period.To.AddTicks(-1).UtcDateTime)), reader =>
                data.Uniques.Raise(reader.GetInt16(0), (byte)reader.GetInt16(1))),
            (Command("""
                SELECT qr_code_id, sum(scans) FROM qr_rollup_hourly
                 WHERE qr_code_id = ANY($1) AND hour >= $2 AND hour < $3
                 GROUP BY 1 ORDER BY 2 DESC LIMIT 10
                """, codeIds, period.From, period.To), reader => data.TopCodes.Add((reader.GetInt64(0), reader.GetInt64(1)))),
        };

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        foreach (var (query, _) in reads)
        {
            batch.BatchCommands.Add(query);
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        foreach (var (_, row) in reads)
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                row(reader);
            }

            await reader.NextResultAsync(cancellationToken);
        }

        return data;
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in parameters)
        {
            command.Parameters.Add(value is DateTimeOffset
                ? new NpgsqlParameter { Value = value, NpgsqlDbType = NpgsqlDbType.TimestampTz }
                : new NpgsqlParameter { Value = value });
        }

        return command;
    }

    private static DateTimeOffset FloorToDay(DateTimeOffset at) => new(at.UtcDateTime.Date, TimeSpan.Zero);

    private static DateTimeOffset CeilingToDay(DateTimeOffset at)
    {
        var floor = FloorToDay(at);
        return floor == at ? floor : floor.AddDays(1);
    }
}

/// <summary>The rows a stats query returns, before shaping into the API answer.</summary>
public sealed class StatsData
{
    public Dictionary<DateTime, HourCounts> Series { get; } = [];

    /// <summary>[ISO day of week − 1 (Monday = 0), hour of day] → scans.</summary>
    public long[,] PeakHours { get; } = new long[7, 24];

    public List<DimRow> Dims { get; } = [];

    public HyperLogLog Uniques { get; } = new();

    public List<(long CodeId, long Scans)> TopCodes { get; } = [];
}

public sealed record DimRow(string Dim, string Value, long Scans, double? Latitude, double? Longitude);
