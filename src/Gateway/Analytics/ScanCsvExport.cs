using InvexQr.Data;
using InvexQr.Abstractions;
using System.Globalization;
using System.Text;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Grains.Codes;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InvexQr.Gateway.Analytics;

/// <summary>
/// Streams a code's raw scans as CSV, row by row from the database to the response (constant memory
/// however many scans). Values are as stored, i.e. already anonymised. Cells that a spreadsheet would
/// take for a formula (<c>= + - @</c>) are prefixed with an apostrophe: user agents and referers are
/// attacker-controlled. <c>tz</c> (IANA) sets the zone of <c>from</c>/<c>to</c> dates and of the
/// <c>scanned_at</c> column.
/// </summary>
public static class ScanCsvExport
{
    private static readonly string Header = "scanned_at," + string.Join(',', ScanExportQueries.Columns);

    public static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> ExportAsync(
        string code, [AsParameters] StatsParameters query, HttpContext http, StatsQueries queries, ScanExportQueries scans, TimeProvider clock)
    {
        // Default period for exports: everything (stats default to 30 days; exports to all there is).
        var period = StatsPeriodQuery.TryParse(query, clock.GetUtcNow(), out var error);
        if (period is null)
        {
            return JsonBody.Invalid(error.Message, error.Field);
        }

        var from = query.From is not null ? period.From : DateTimeOffset.UnixEpoch;
        if (!CodeFormat.IsWellFormed(code) || await queries.FindOwnedCodeIdAsync(code, http.User.OwnerId(), http.RequestAborted) is not { } id)
        {
            return CodesApi.NotFound(code);
        }

        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{code}-scans.csv\"";
        return TypedResults.Stream(body => WriteAsync(body, id, from, period, scans, http.RequestAborted), "text/csv; charset=utf-8");
    }

    private static async Task WriteAsync(
        Stream body, long id, DateTimeOffset from, InvexQr.Grains.Analytics.StatsPeriod period, ScanExportQueries scans, CancellationToken cancellationToken)
    {
        await using var writer = new StreamWriter(body, new UTF8Encoding(false), bufferSize: 64 * 1024);
        await writer.WriteLineAsync(Header);
        var line = new StringBuilder(512);
        var rows = 0;
        await foreach (var row in scans.ReadAsync(id, from, period.To, cancellationToken))
        {
            line.Clear();
            line.Append(ScannedAt(row.ScannedAt, period.TimeZone));
            foreach (var value in row.Values)
            {
                line.Append(',');
                line.Append(value switch
                {
                    null => string.Empty,
                    double d => d.ToString("R", CultureInfo.InvariantCulture),
                    bool b => b ? "true" : "false",
                    _ => Cell(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty),
                });
            }

            await writer.WriteLineAsync(line);
            if (++rows % 1000 == 0)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// The scan time in <paramref name="zone"/> as ISO 8601 with that moment's offset (daylight saving
    /// included), so a row stays unambiguous in the repeated hour of autumn; UTC (and its aliases) keeps its <c>Z</c>.
    /// </summary>
    public static string ScannedAt(DateTimeOffset scannedAt, TimeZoneInfo zone) =>
        zone.BaseUtcOffset == TimeSpan.Zero && !zone.SupportsDaylightSavingTime
            ? scannedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
            : TimeZoneInfo.ConvertTime(scannedAt, zone).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    /// <summary>
    /// RFC 4180 quoting, plus neutralising spreadsheet formulas. Semicolons and tabs are quoted too: spreadsheets in
    /// locales whose list separator is ';' (or that sniff tabs) split on them, and the next cell could start a formula.
    /// </summary>
    public static string Cell(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or ';' or '\t' or '\r' or '\n')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",;\"\t\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }
}
