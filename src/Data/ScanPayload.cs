using System.Text.Json;
using InvexQr.Grains.Scans;
using Npgsql;

namespace InvexQr.Data;

/// <summary>
/// What a scan event carries (docs/webhooks.md): what the stored scan holds, and less — no address, user agent, referrer
/// or visitor hash. Read from the scan row when the event is delivered, so a scan erased before then is never sent.
/// </summary>
public sealed record ScanPayload(
    Guid ScanId, string Code, DateTimeOffset ScannedAt, string? Country, string? Region, string? City, double? Latitude, double? Longitude,
    string? DeviceType, string? Os, string? Browser, bool IsBot, bool IsRepeat)
{
    /// <summary>
    /// One row of <c>s.id, c.code, s.scanned_at, s.country_code, s.subdivision, s.city, s.latitude, s.longitude,
    /// s.device_type, s.os, s.browser, s.is_bot, s.is_repeat</c>.
    /// </summary>
    public static ScanPayload Read(NpgsqlDataReader row) => new(
        row.GetGuid(0), row.GetString(1), row.GetFieldValue<DateTimeOffset>(2), Text(row, 3), Text(row, 4), Text(row, 5),
        row.IsDBNull(6) ? null : row.GetDouble(6), row.IsDBNull(7) ? null : row.GetDouble(7),
        Text(row, 8), Text(row, 9), Text(row, 10), row.GetBoolean(11), row.GetBoolean(12));

    /// <summary>
    /// The data of the event of a scan about to be written, but its code (WebhookOutboxSql.ScanJson adds that): the scan
    /// as the scan row will hold it (text without NUL characters, time to the microsecond).
    /// </summary>
    public static void WriteEventData(Utf8JsonWriter json, ScanRecord scan)
    {
        var at = scan.ScannedAt.UtcTicks;
        new ScanPayload(
            scan.Id, string.Empty, new DateTimeOffset(at - (at % 10), TimeSpan.Zero), ScanWriter.Storable(scan.Location?.CountryCode),
            ScanWriter.Storable(scan.Location?.Subdivision), ScanWriter.Storable(scan.Location?.City), scan.Location?.Latitude, scan.Location?.Longitude,
            ScanWriter.Storable(scan.Client?.DeviceType), ScanWriter.Storable(scan.Client?.Os), ScanWriter.Storable(scan.Client?.Browser),
            scan.Client?.IsBot ?? false, scan.IsRepeat).WriteTo(json, withCode: false);
    }

    public void WriteTo(Utf8JsonWriter json, bool withCode = true)
    {
        json.WriteStartObject();
        json.WriteString("scanId", ScanId);
        if (withCode)
        {
            json.WriteString("code", Code);
        }

        json.WriteString("scannedAt", ScannedAt.ToUniversalTime());
        json.WriteString("country", Country);
        json.WriteString("region", Region);
        json.WriteString("city", City);
        Number(json, "latitude", Latitude);
        Number(json, "longitude", Longitude);
        json.WriteString("deviceType", DeviceType);
        json.WriteString("os", Os);
        json.WriteString("browser", Browser);
        json.WriteBoolean("isBot", IsBot);
        json.WriteBoolean("isRepeat", IsRepeat);
        json.WriteEndObject();
    }

    private static string? Text(NpgsqlDataReader row, int ordinal) => row.IsDBNull(ordinal) ? null : row.GetString(ordinal);

    private static void Number(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
