using InvexQr.Grains.Webhooks;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>
/// An event waiting in the outbox for one endpoint: a code event with its <see cref="PayloadJson"/>, a scan event with
/// the <see cref="ScanData"/> written when it was queued (UTF-8 JSON, in the claim's buffer), or a scan event queued again by a replay with its
/// <see cref="Scan"/> as stored now. A replayed scan event whose scan is gone (its code deleted, or past retention) has
/// none of them: it is removed with its batch, never sent.
/// </summary>
public sealed record OutboxEvent(
    long Id, Guid EventId, string Type, long QrCodeId, DateTimeOffset OccurredAt, string? PayloadJson, ScanPayload? Scan = null,
    ReadOnlyMemory<byte> ScanData = default)
{
    public bool Deliverable => PayloadJson is not null || Scan is not null || !ScanData.IsEmpty;

    /// <summary>A scan event with neither data written when it was queued nor its scan row read yet.</summary>
    public bool Undescribed => Type == WebhookEvents.Scan && PayloadJson is null && Scan is null && ScanData.IsEmpty;
}

/// <summary>
/// The delivery side of the webhook outbox. A delivery claims one endpoint with <c>SELECT … FOR NO KEY UPDATE SKIP LOCKED</c>
/// and holds that lock in an open transaction while it posts: one delivery per endpoint at a time across all silos, so
/// events go out in outbox order (hence in order per code), and a silo that dies mid-delivery releases the lock with
/// its connection, leaving the events to be sent again (at least once). The lock mode lets scan writers keep inserting
/// events for the endpoint meanwhile (their foreign key takes only a key-share lock).
/// </summary>
public sealed class WebhookOutbox(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Claims the endpoint that is due and has a batch ready (<paramref name="batchSize"/> events, or an oldest event older
    /// than <paramref name="window"/>), with its first events; null when none is.
    /// </summary>
    public async Task<WebhookClaim?> ClaimAsync(int batchSize, TimeSpan window, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        NpgsqlTransaction? transaction = null;
        ClaimBuffer? buffer = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(cancellationToken);
            // The outbox is a queue: its statistics are never current (a backlog of 100,000 events may be planned as
            // 150 rows), and qr_scans' newest partition grows faster than it is analysed. Planned from them, the batch's
            // reads became a bitmap scan of the endpoint's whole backlog plus a sort (5-6 ms per batch), and a
            // sequential scan of this month's scans (11 ms). The reads below are all small index walks (the first N
            // entries of one endpoint, N primary keys): asked for as such, for this transaction only.
            await using (var plan = new NpgsqlCommand(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off",
                connection, transaction))
            {
                await plan.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var claim = new NpgsqlCommand("""
                SELECT e.id, e.url, e.secret, e.consecutive_failures, e.failing_since
                  FROM webhook_endpoints e
                 WHERE e.status = 'active' AND e.next_attempt_at <= now()
                   AND ((SELECT o.created_at FROM webhook_outbox o WHERE o.endpoint_id = e.id ORDER BY o.id LIMIT 1) <= now() - $1
                        OR (SELECT sum(x.event_count) FROM (SELECT o.event_count FROM webhook_outbox o WHERE o.endpoint_id = e.id ORDER BY o.id LIMIT $2) x) >= $2)
                 ORDER BY e.next_attempt_at
                 LIMIT 1
                   FOR NO KEY UPDATE SKIP LOCKED
                """, connection, transaction);
            claim.Parameters.Add(new() { Value = window, NpgsqlDbType = NpgsqlDbType.Interval });
            claim.Parameters.Add(new() { Value = (long)batchSize });
            long endpointId;
            string url, secret;
            int failures;
            DateTimeOffset? failingSince;
            await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    await reader.DisposeAsync();
                    await transaction.DisposeAsync();
                    await connection.DisposeAsync();
                    return null;
                }

                (endpointId, url, secret, failures) = (reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3));
                failingSince = reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4);
            }

            var events = new List<OutboxEvent>(batchSize);
            buffer = new ClaimBuffer();
            OutboxCut? cut = null;
            // Whole rows while they fit, so that a claim never leaves part of a row behind to be rewritten (under load the
            // scan writer's rows are of any size up to 500, and cutting them made every claim rewrite a row's arrays).
            // Only a first row larger than the whole batch is cut: its first part goes, the rest stays. The rows are
            // chosen by their event counts first: a row's scan keys and data are read only for the rows the batch takes.
            // Read column by column (SequentialAccess): a row of 500 scans is ~150 KB, which a buffered read would copy
            // into a fresh oversize buffer each time.
            await using (var read = new NpgsqlCommand("""
                WITH head AS (
                    SELECT r.id, r.event_count, sum(r.event_count) OVER (ORDER BY r.id) AS upto
                      FROM (SELECT id, event_count FROM webhook_outbox WHERE endpoint_id = $1 ORDER BY id LIMIT $2) r)
                SELECT o.id, o.event_id, o.event_type, o.qr_code_id, o.occurred_at, o.payload::text, o.event_count,
                       o.scan_codes[:$2], o.scan_times[:$2], o.scan_ids[:$2],
                       array_send(o.scan_data[:$2]) -- the array's bytes as sent anyway, read without a string per element
                  FROM head h JOIN webhook_outbox o ON o.endpoint_id = $1 AND o.id = h.id
                 WHERE h.upto <= $2 OR h.upto = h.event_count
                 ORDER BY o.id
                """, connection, transaction))
            {
                read.Parameters.Add(new() { Value = endpointId });
                read.Parameters.Add(new() { Value = batchSize });
                await using var reader = await read.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken);
                while (events.Count < batchSize && await reader.ReadAsync(cancellationToken))
                {
                    // Asynchronous reads throughout: in sequential mode a column not yet received would block a thread.
                    var id = await reader.GetFieldValueAsync<long>(0, cancellationToken);
                    var eventId = await reader.GetFieldValueAsync<Guid>(1, cancellationToken);
                    var type = await reader.GetFieldValueAsync<string>(2, cancellationToken);
                    var codeId = await reader.GetFieldValueAsync<long>(3, cancellationToken);
                    var occurredAt = await reader.GetFieldValueAsync<DateTimeOffset>(4, cancellationToken);
                    var payload = await reader.IsDBNullAsync(5, cancellationToken) ? null : await reader.GetFieldValueAsync<string>(5, cancellationToken);
                    var count = await reader.GetFieldValueAsync<int>(6, cancellationToken);
                    if (await reader.IsDBNullAsync(7, cancellationToken))
                    {
                        events.Add(new OutboxEvent(id, eventId, type, codeId, occurredAt, payload));
                        continue;
                    }

                    var codes = await reader.GetFieldValueAsync<long[]>(7, cancellationToken);
                    var times = await reader.GetFieldValueAsync<DateTimeOffset[]>(8, cancellationToken);
                    var ids = await reader.GetFieldValueAsync<Guid[]>(9, cancellationToken);
                    var take = Math.Min(ids.Length, batchSize - events.Count);
                    var data = await buffer.ReadTextArrayAsync(reader, 10, ids.Length, cancellationToken);
                    for (var k = 0; k < take; k++)
                    {
                        events.Add(new OutboxEvent(id, ids[k], WebhookEvents.Scan, codes[k], times[k], null, ScanData: data[k]));
                    }

                    if (take < count)
                    {
                        cut = new OutboxCut(id, times[take - 1], ids[take - 1]);
                    }
                }
            }

            await ReadScansAsync(connection, transaction, events, cancellationToken);
            return new WebhookClaim(connection, transaction, endpointId, url, secret, failures, failingSince, events, cut, buffer);
        }
        catch
        {
            buffer?.Dispose();
            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }

            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Fills in the scan events' payloads from their scan rows, as stored now, in one statement: a primary-key lookup
    /// (code, time, id) per event, in the partitions the batch's time span covers (pruned when PostgreSQL plans). The JSON is written by the delivery (<see cref="ScanPayload.WriteTo"/>), not built row by row in SQL.
    /// </summary>
    private static async Task ReadScansAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<OutboxEvent> events, CancellationToken cancellationToken)
    {
        var scans = events.Where(e => e.Undescribed).ToList();
        if (scans.Count == 0)
        {
            return;
        }

        await using var read = new NpgsqlCommand("""
            SELECT s.id, c.code, s.scanned_at, s.country_code, s.subdivision, s.city, s.latitude, s.longitude,
                   s.device_type, s.os, s.browser, s.is_bot, s.is_repeat
              FROM unnest($1::bigint[], $2::timestamptz[], $3::uuid[]) AS k(qr_code_id, scanned_at, id)
             CROSS JOIN LATERAL (
                   SELECT * FROM qr_scans s
                    WHERE s.qr_code_id = k.qr_code_id AND s.scanned_at = k.scanned_at AND s.id = k.id
                      AND s.scanned_at BETWEEN $4 AND $5
                    LIMIT 1) s -- one primary-key lookup per event (LIMIT keeps it a lookup, not a join of the month)
              JOIN qr_codes c ON c.id = s.qr_code_id
            """, connection, transaction);
        read.Parameters.Add(new() { Value = scans.Select(e => e.QrCodeId).ToArray() });
        read.Parameters.Add(new() { Value = scans.Select(e => e.OccurredAt).ToArray() });
        read.Parameters.Add(new() { Value = scans.Select(e => e.EventId).ToArray() });
        read.Parameters.Add(new() { Value = scans.Min(e => e.OccurredAt) });
        read.Parameters.Add(new() { Value = scans.Max(e => e.OccurredAt) });
        var found = new Dictionary<Guid, ScanPayload>(scans.Count);
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var payload = ScanPayload.Read(reader);
                found[payload.ScanId] = payload;
            }
        }

        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Undescribed && found.TryGetValue(events[i].EventId, out var scan))
            {
                events[i] = events[i] with { Scan = scan };
            }
        }
    }

    /// <summary>
    /// Queues code.gone for codes that expired or used up their scans since the last sweep; the number queued. A code
    /// being changed or deleted right now is locked (FOR SHARE … SKIP LOCKED skips it) and left to the next sweep, so no
    /// code.gone can follow a code's code.deleted, nor a revived code keep a stale notice.
    /// </summary>
    public async Task<int> SweepGoneAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH candidates AS (
                SELECT c.*, CASE WHEN c.expires_at <= now() THEN 'expired' ELSE 'exhausted' END AS reason
                  FROM qr_codes c
                 WHERE c.id IN (SELECT id FROM qr_codes WHERE expires_at <= now()
                                UNION ALL
                                SELECT x.id FROM qr_codes x JOIN qr_code_totals t ON t.qr_code_id = x.id
                                 WHERE x.max_scans IS NOT NULL AND x.max_scans <= t.total_scans)
                   AND c.owner_id IN (SELECT owner_id FROM webhook_endpoints WHERE status = 'active' AND 'code.gone' = ANY(events))
                   AND NOT EXISTS (SELECT 1 FROM webhook_gone_notices n WHERE n.qr_code_id = c.id)
                   FOR SHARE OF c SKIP LOCKED),
            gone AS (
                INSERT INTO webhook_gone_notices (qr_code_id) SELECT id FROM candidates
                ON CONFLICT DO NOTHING
                RETURNING qr_code_id),
            codes AS (SELECT * FROM candidates WHERE id IN (SELECT qr_code_id FROM gone)),
            {WebhookOutboxSql.QueueCodeEvent("queued", "codes", "code.gone", " || jsonb_build_object('reason', r.reason)")}
            SELECT count(*) FROM gone
            """);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
    }
}

/// <summary>A row of scans of which a batch took only the first part, up to the scan at (<see cref="LastTime"/>, <see cref="LastId"/>).</summary>
public sealed record OutboxCut(long RowId, DateTimeOffset LastTime, Guid LastId);

/// <summary>One endpoint claimed for delivery: the transaction holding its lock, and the events to send.</summary>
public sealed class WebhookClaim(
    NpgsqlConnection connection, NpgsqlTransaction transaction, long endpointId, string url, string secret, int failures,
    DateTimeOffset? failingSince, IReadOnlyList<OutboxEvent> events, OutboxCut? cut, ClaimBuffer buffer) : IAsyncDisposable
{
    public long EndpointId => endpointId;

    public string Url => url;

    public string Secret => secret;

    /// <summary>Failed attempts in a row before this one.</summary>
    public int ConsecutiveFailures => failures;

    public DateTimeOffset? FailingSince => failingSince;

    /// <summary>The events claimed, in outbox order, with those whose scan is gone.</summary>
    public IReadOnlyList<OutboxEvent> Events => events;

    /// <summary>The events to send: those with a payload.</summary>
    public IReadOnlyList<OutboxEvent> Deliverable { get; } = events.Where(e => e.Deliverable).ToList();

    /// <summary>The receiver took the batch: its events leave the outbox, the endpoint's failures are forgotten.</summary>
    public async Task SucceededAsync(Guid deliveryId, int responseCode, int latencyMs, int keep, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        RemoveClaimed(batch);
        var reset = new NpgsqlBatchCommand(
            "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL, next_attempt_at = now() WHERE id = $1");
        reset.Parameters.Add(new() { Value = endpointId });
        batch.BatchCommands.Add(reset);
        AddDelivery(batch, deliveryId, true, responseCode, latencyMs, null, keep);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Nothing to send (every scan of the batch is gone): the events leave the outbox without a delivery.</summary>
    public async Task DiscardAsync(CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        RemoveClaimed(batch);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The claimed events leave the outbox: their rows, and the taken part of a row cut short.</summary>
    private void RemoveClaimed(NpgsqlBatch batch)
    {
        var rows = events.Select(e => e.Id).Where(id => id != cut?.RowId).Distinct().ToArray();
        if (rows.Length > 0)
        {
            // One walk of the claimed id range; the ids themselves, as an event committed late may sit inside it unread.
            var delete = new NpgsqlBatchCommand("DELETE FROM webhook_outbox WHERE endpoint_id = $1 AND id BETWEEN $2 AND $3 AND id = ANY($4)");
            delete.Parameters.Add(new() { Value = endpointId });
            delete.Parameters.Add(new() { Value = rows[0] });
            delete.Parameters.Add(new() { Value = rows[^1] });
            delete.Parameters.Add(new() { Value = rows });
            batch.BatchCommands.Add(delete);
        }

        if (cut is not null)
        {
            // The row keeps the scans after the last one taken, found by key rather than by position: a code deleted
            // meanwhile may have taken its scans out of the row (CodeRepository.DeleteAsync). The arrays are in
            // (scanned_at, id) order.
            var rest = new NpgsqlBatchCommand("""
                UPDATE webhook_outbox o
                   SET scan_codes = o.scan_codes[k.taken + 1:], scan_times = o.scan_times[k.taken + 1:],
                       scan_ids = o.scan_ids[k.taken + 1:], scan_data = o.scan_data[k.taken + 1:],
                       event_count = o.event_count - k.taken, event_id = o.scan_ids[k.taken + 1],
                       qr_code_id = o.scan_codes[k.taken + 1], occurred_at = o.scan_times[k.taken + 1]
                  FROM (SELECT count(*)::int AS taken
                          FROM webhook_outbox x, unnest(x.scan_times, x.scan_ids) AS u(t, i)
                         WHERE x.endpoint_id = $1 AND x.id = $2 AND (u.t, u.i) <= ($3, $4)) k
                 WHERE o.endpoint_id = $1 AND o.id = $2 AND k.taken < o.event_count
                """);
            rest.Parameters.Add(new() { Value = endpointId });
            rest.Parameters.Add(new() { Value = cut.RowId });
            rest.Parameters.Add(new() { Value = cut.LastTime });
            rest.Parameters.Add(new() { Value = cut.LastId });
            batch.BatchCommands.Add(rest);
            var emptied = new NpgsqlBatchCommand("""
                DELETE FROM webhook_outbox x
                 WHERE x.endpoint_id = $1 AND x.id = $2
                   AND NOT EXISTS (SELECT 1 FROM unnest(x.scan_times, x.scan_ids) AS u(t, i) WHERE (u.t, u.i) > ($3, $4))
                """);
            emptied.Parameters.Add(new() { Value = endpointId });
            emptied.Parameters.Add(new() { Value = cut.RowId });
            emptied.Parameters.Add(new() { Value = cut.LastTime });
            emptied.Parameters.Add(new() { Value = cut.LastId });
            batch.BatchCommands.Add(emptied);
        }
    }

    /// <summary>The attempt failed: the events stay, the endpoint is tried again after <paramref name="retryIn"/>, or disabled.</summary>
    public async Task FailedAsync(
        Guid deliveryId, int? responseCode, int latencyMs, string error, TimeSpan retryIn, string? disableReason, int keep,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        var update = new NpgsqlBatchCommand("""
            UPDATE webhook_endpoints
               SET consecutive_failures = consecutive_failures + 1,
                   failing_since = COALESCE(failing_since, now()),
                   next_attempt_at = clock_timestamp() + $2, -- from the failure, not from the claim before the request
                   status = CASE WHEN $3::text IS NULL THEN status ELSE 'disabled' END,
                   disabled_reason = COALESCE($3, disabled_reason),
                   updated_at = CASE WHEN $3::text IS NULL THEN updated_at ELSE now() END
             WHERE id = $1
            """);
        update.Parameters.Add(new() { Value = endpointId });
        update.Parameters.Add(new() { Value = retryIn, NpgsqlDbType = NpgsqlDbType.Interval });
        update.Parameters.Add(new() { Value = (object?)disableReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        batch.BatchCommands.Add(update);
        AddDelivery(batch, deliveryId, false, responseCode, latencyMs, error, keep);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Logs the attempt with what a replay needs of each event sent (0304_webhook_log_arrays.sql): id, type, code and time,
    /// and a code event's data (a scan event is built from its scan row again).
    /// </summary>
    private void AddDelivery(NpgsqlBatch batch, Guid deliveryId, bool succeeded, int? responseCode, int latencyMs, string? error, int keep)
    {
        var sent = Deliverable;
        var (ids, types, codes, times, data) = (new Guid[sent.Count], new string[sent.Count], new long[sent.Count], new DateTimeOffset[sent.Count], new string?[sent.Count]);
        for (var i = 0; i < sent.Count; i++)
        {
            (ids[i], types[i], codes[i], times[i], data[i]) = (sent[i].EventId, sent[i].Type, sent[i].QrCodeId, sent[i].OccurredAt, sent[i].PayloadJson);
        }

        var insert = new NpgsqlBatchCommand("""
            INSERT INTO webhook_deliveries (id, endpoint_id, succeeded, response_code, latency_ms, event_count, error,
                                            event_ids, event_types, event_codes, event_times, event_data)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """);
        insert.Parameters.Add(new() { Value = deliveryId });
        insert.Parameters.Add(new() { Value = endpointId });
        insert.Parameters.Add(new() { Value = succeeded });
        insert.Parameters.Add(new() { Value = (object?)responseCode ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        insert.Parameters.Add(new() { Value = latencyMs });
        insert.Parameters.Add(new() { Value = sent.Count });
        insert.Parameters.Add(new() { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = ids });
        insert.Parameters.Add(new() { Value = types });
        insert.Parameters.Add(new() { Value = codes });
        insert.Parameters.Add(new() { Value = times });
        insert.Parameters.Add(new() { Value = data, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        batch.BatchCommands.Add(insert);
        var prune = new NpgsqlBatchCommand("""
            DELETE FROM webhook_deliveries WHERE id IN (
                SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY attempted_at DESC, id OFFSET $2)
            """);
        prune.Parameters.Add(new() { Value = endpointId });
        prune.Parameters.Add(new() { Value = keep });
        batch.BatchCommands.Add(prune);
    }

    public async ValueTask DisposeAsync()
    {
        // Not committed (an exception, a stop): rolled back, the events stay for the next attempt.
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
        buffer.Dispose(); // the events' data is gone with it
    }
}
