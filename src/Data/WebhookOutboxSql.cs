namespace InvexQr.Data;

/// <summary>
/// The SQL that queues webhook events in the transaction of the change they describe: scans (<see cref="ScanWriter"/>) and
/// code changes (<see cref="CodeRepository"/>). One row per matching endpoint; with no active endpoint anywhere the
/// outbox part is skipped by a one-time EXISTS, so the scan path pays only for RETURNING the new rows' ids.
/// </summary>
public static class WebhookOutboxSql
{
    private const string Outbox = "webhook_outbox (endpoint_id, event_id, event_type, qr_code_id, occurred_at, payload)";

    /// <summary>The active endpoints of code row <paramref name="code"/>'s owner subscribed to <paramref name="eventType"/> whose filters it passes.</summary>
    public static string Matches(string endpoint, string code, string eventType) =>
        $"{endpoint}.owner_id = {code}.owner_id AND {endpoint}.status = 'active' AND '{eventType}' = ANY({endpoint}.events) " +
        $"AND ({endpoint}.filter_codes IS NULL OR {code}.code = ANY({endpoint}.filter_codes)) " +
        $"AND ({endpoint}.filter_tags IS NULL OR {code}.tags && {endpoint}.filter_tags)";

    /// <summary>What a code event carries: the code as the API shows it.</summary>
    public static string CodeJson(string c) =>
        $"jsonb_build_object('code', {c}.code, 'targetUrl', {c}.target_url, 'title', {c}.title, 'tags', {c}.tags, " +
        $"'status', {c}.status, 'expiresAt', {c}.expires_at, 'maxScans', {c}.max_scans, 'createdAt', {c}.created_at, 'updatedAt', {c}.updated_at)";

    /// <summary>A CTE clause (<c>name AS (INSERT …)</c>) queueing <paramref name="eventType"/> for every code row of CTE <paramref name="rows"/>.</summary>
    public static string QueueCodeEvent(string name, string rows, string eventType, string extraJson = "") =>
        $"{name} AS (INSERT INTO {Outbox} SELECT e.id, gen_random_uuid(), '{eventType}', r.id, now(), {CodeJson("r")}{extraJson} " +
        $"FROM {rows} r JOIN webhook_endpoints e ON {Matches("e", "r", eventType)})";

    /// <summary>
    /// Wraps the scan writer's <c>INSERT INTO qr_scans … ON CONFLICT DO NOTHING</c> so that the scans it inserts are queued
    /// for the endpoints that want them, in the same statement. Returns one row: the number of scans inserted.
    /// A scan event carries no more than the stored scan, and less: no address, user agent, referrer or visitor hash.
    /// </summary>
    public static string WithScanEvents(string insertScans) => $"""
        WITH inserted AS ({insertScans}
            RETURNING id, qr_code_id, scanned_at, country_code, subdivision, city, latitude, longitude, device_type, os, browser, is_bot, is_repeat),
        queued AS (
            INSERT INTO {Outbox}
            SELECT e.id, i.id, 'scan', i.qr_code_id, i.scanned_at,
                   jsonb_build_object('scanId', i.id, 'code', c.code, 'scannedAt', i.scanned_at, 'country', i.country_code,
                       'region', i.subdivision, 'city', i.city, 'latitude', i.latitude, 'longitude', i.longitude,
                       'deviceType', i.device_type, 'os', i.os, 'browser', i.browser, 'isBot', i.is_bot, 'isRepeat', i.is_repeat)
              FROM inserted i
              JOIN qr_codes c ON c.id = i.qr_code_id
              JOIN webhook_endpoints e ON {Matches("e", "c", "scan")}
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE status = 'active')
             ORDER BY i.scanned_at, i.id)
        SELECT count(*) FROM inserted
        """;
}
