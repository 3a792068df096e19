using System.Globalization;
using System.Text;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Grains.Codes;
using Npgsql;

namespace InvexQr.Gateway.Analytics;

/// <summary>
/// Streams a code's raw scans as CSV, row by row from the database to the response (constant memory
/// however many scans). Values are as stored, i.e. already anonymised. Cells that a spreadsheet would
/// take for a formula (<c>= + - @</c>) are prefixed with an apostrophe: user agents and referers are
/// attacker-controlled.
/// </summary>
public static class ScanCsvExport
{
    private const string Header =
        "scanned_at,ip_address,country_code,country,subdivision,city,latitude,longitude,device_type,os,browser,is_bot,is_repeat,user_agent,referer";

    public static async Task ExportAsync(string code, HttpContext http, StatsQueries queries, NpgsqlDataSource dataSource, TimeProvider clock)
    {
        // Default period for exports: everything (stats default to 30 days; exports to all there is).
        var query = http.Request.Query;
        var period = StatsPeriod.TryParse(query, clock.GetUtcNow(), out var error);
        if (period is null)
        {
            await JsonBody.Invalid(error.Message, error.Field).ExecuteAsync(http);
            return;
        }

        var from = query["from"].Count > 0 ? period.From : DateTimeOffset.UnixEpoch;
        if (!CodeFormat.IsWellFormed(code) || await queries.FindOwnedCodeIdAsync(code, http.User.OwnerId(), http.RequestAborted) is not { } id)
        {
            await CodesApi.NotFound(code).ExecuteAsync(http);
            return;
        }

        await using var command = dataSource.CreateCommand("""
            SELECT scanned_at, ip_address, country_code, country, subdivision, city, latitude, longitude,
                   device_type, os, browser, is_bot, is_repeat, user_agent, referer
              FROM qr_scans
             WHERE qr_code_id = $1 AND scanned_at >= $2 AND scanned_at < $3
             ORDER BY scanned_at
            """);
        command.CommandTimeout = 0; // long exports are fine; the client's disconnect cancels it
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = from, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = period.To, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });

        http.Response.ContentType = "text/csv; charset=utf-8";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{code}-scans.csv\"";
        await using var writer = new StreamWriter(http.Response.Body, new UTF8Encoding(false), bufferSize: 64 * 1024);
        await writer.WriteLineAsync(Header);
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, http.RequestAborted);
        var line = new StringBuilder(512);
        var rows = 0;
        while (await reader.ReadAsync(http.RequestAborted))
        {
            line.Clear();
            line.Append(reader.GetFieldValue<DateTimeOffset>(0).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            for (var i = 1; i < 15; i++)
            {
                line.Append(',');
                if (reader.IsDBNull(i))
                {
                    continue;
                }

                var value = reader.GetValue(i);
                line.Append(value switch
                {
                    double d => d.ToString("R", CultureInfo.InvariantCulture),
                    bool b => b ? "true" : "false",
                    _ => Cell(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty),
                });
            }

            await writer.WriteLineAsync(line);
            if (++rows % 1000 == 0)
            {
                await writer.FlushAsync(http.RequestAborted);
            }
        }
    }

    /// <summary>RFC 4180 quoting, plus neutralising spreadsheet formulas.</summary>
    public static string Cell(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }
}
