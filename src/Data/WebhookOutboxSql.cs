namespace InvexQr.Data;

/// <summary>
/// The SQL that queues webhook events in the transaction of the change they describe: scans (<see cref="ScanWriter"/>) and
/// code changes (<see cref="CodeRepository"/>), for every matching endpoint (a code event a row, scans a row per
/// <see cref="ScansPerRow"/>); with no active endpoint anywhere the
/// outbox part is skipped by a one-time EXISTS, so the scan path pays only for RETURNING the new rows' ids. The endpoints
/// queued for are locked (FOR KEY SHARE) for the transaction: an endpoint deleted meanwhile waits for it, then its
/// trigger removes the events queued here (0301_webhook_outbox_lean.sql).
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
        $"FROM {rows} r JOIN webhook_endpoints e ON {Matches("e", "r", eventType)} FOR KEY SHARE OF e)";

    /// <summary>
    /// A scan event's data as JSON text: what the scan writer wrote for the scan in <c>qr_scans_stage.event_data</c>
    /// (<see cref="ScanPayload.WriteEventData"/>: every field but the code, <c>scanId</c> first, so its first 48
    /// characters are always <c>{"scanId":"…36…"</c>), with the code of code row <paramref name="code"/> put after the id.
    /// Null when the writer wrote none (it had seen no endpoint for scans): the delivery then reads the scan row.
    /// </summary>
    public static string ScanJson(string stage, string code) =>
        $"left({stage}.event_data, 48) || ',\"code\":' || to_json({code}.code)::text || substr({stage}.event_data, 49)";

    /// <summary>Scans per outbox row the scan writer queues (0303_webhook_outbox_scan_batches.sql).</summary>
    public const int ScansPerRow = 500;

    /// <summary>
    /// Wraps the scan writer's <c>INSERT INTO qr_scans … SELECT … FROM qr_scans_stage s …</c> so that the scans it inserts
    /// are queued for the endpoints that want them, in the same statement. Returns one row: the number of scans inserted,
    /// and whether any endpoint takes scans (the writer writes the events' data for its next batch only then). Each
    /// endpoint gets one outbox row per <see cref="ScansPerRow"/> of the scans: their keys and their events' data
    /// (<see cref="ScanJson"/>), in scan order.
    /// </summary>
    public static string WithScanEvents(string insertScans) => $"""
        WITH inserted AS ({insertScans}
            RETURNING id, qr_code_id, scanned_at),
        hooks AS MATERIALIZED (
            SELECT * FROM webhook_endpoints
             WHERE status = 'active' AND 'scan' = ANY(events)
               AND owner_id IN (SELECT owner_id FROM qr_codes WHERE id IN (SELECT qr_code_id FROM inserted))
               AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE status = 'active')
               FOR KEY SHARE),
        matched AS (
            SELECT e.id AS endpoint_id, i.id, i.qr_code_id, i.scanned_at, {ScanJson("s", "c")} AS data,
                   (row_number() OVER (PARTITION BY e.id ORDER BY i.scanned_at, i.id) - 1) / {ScansPerRow} AS chunk
              FROM inserted i
              JOIN qr_scans_stage s ON s.id = i.id -- the writer stages each scan once
              JOIN qr_codes c ON c.id = i.qr_code_id
              JOIN hooks e ON {Matches("e", "c", "scan")}),
        chunks AS (
            SELECT endpoint_id, chunk, count(*) AS n,
                   array_agg(qr_code_id ORDER BY scanned_at, id) AS codes,
                   array_agg(scanned_at ORDER BY scanned_at, id) AS times,
                   array_agg(id ORDER BY scanned_at, id) AS ids,
                   array_agg(data ORDER BY scanned_at, id) AS data
              FROM matched GROUP BY endpoint_id, chunk),
        queued AS (
            INSERT INTO webhook_outbox (endpoint_id, event_id, event_type, qr_code_id, occurred_at, payload,
                                        event_count, scan_codes, scan_times, scan_ids, scan_data)
            SELECT endpoint_id, ids[1], 'scan', codes[1], times[1], NULL, n, codes, times, ids, data
              FROM chunks ORDER BY endpoint_id, chunk)
        SELECT (SELECT count(*) FROM inserted),
               EXISTS (SELECT 1 FROM webhook_endpoints WHERE status = 'active' AND 'scan' = ANY(events))
        """;
}
