using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>Raw scans of one code, oldest first, streamed row by row (constant memory however many there are).</summary>
public sealed class ScanExportQueries(NpgsqlDataSource dataSource)
{
    /// <summary>The stored columns, in the order <see cref="ScanExportRow.Values"/> holds them after the scan time.</summary>
    public static readonly string[] Columns =
        ["ip_address", "country_code", "country", "subdivision", "city", "latitude", "longitude",
         "device_type", "os", "browser", "is_bot", "is_repeat", "user_agent", "referer"];

    public async IAsyncEnumerable<ScanExportRow> ReadAsync(
        long codeId, DateTimeOffset from, DateTimeOffset to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT scanned_at, {string.Join(", ", Columns)}
              FROM qr_scans
             WHERE qr_code_id = $1 AND scanned_at >= $2 AND scanned_at < $3
             ORDER BY scanned_at
            """);
        command.CommandTimeout = 0; // long exports are fine; the client's disconnect cancels it
        command.Parameters.Add(new() { Value = codeId });
        command.Parameters.Add(new() { Value = from, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = to, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
        var values = new object?[Columns.Length];
        while (await reader.ReadAsync(cancellationToken))
        {
            var scannedAt = reader.GetFieldValue<DateTimeOffset>(0);
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = reader.IsDBNull(i + 1) ? null : reader.GetValue(i + 1);
            }

            yield return new ScanExportRow(scannedAt, values);
        }
    }
}

/// <summary>One raw scan: its time, then the values of <see cref="ScanExportQueries.Columns"/> (null where not stored). The array is reused for the next row.</summary>
public readonly record struct ScanExportRow(DateTimeOffset ScannedAt, object?[] Values);
