namespace InvexQr.Data;

/// <summary>
/// The SQL that queues webhook events in the transaction of the change they describe: scans (<see cref="ScanWriter"/>) and
/// code changes (<see cref="CodeRepository"/>). One row per matching endpoint; with no active endpoint anywhere the
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
    /// Wraps the scan writer's <c>INSERT INTO qr_scans … ON CONFLICT DO NOTHING</c> so that the scans it inserts are queued
    /// for the endpoints that want them, in the same statement. Returns one row: the number of scans inserted. A queued
    /// scan event is a reference to its scan (the delivery builds the payload, <see cref="ScanJson"/>): a narrow row with
    /// one index entry per event and endpoint.
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
        queued AS (
            INSERT INTO {Outbox}
            SELECT e.id, i.id, 'scan', i.qr_code_id, i.scanned_at, NULL
              FROM inserted i
              JOIN qr_codes c ON c.id = i.qr_code_id
              JOIN hooks e ON {Matches("e", "c", "scan")}
             ORDER BY i.scanned_at, i.id)
        SELECT count(*) FROM inserted
        """;
}
