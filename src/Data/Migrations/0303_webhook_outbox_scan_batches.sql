-- Scan events queued a batch at a time: the scan writer's statement queues, per endpoint, one outbox row for up to 500
-- of the scans it inserted, in scan order: their keys in three arrays and each event's data as JSON in a fourth,
-- written from the new rows in that statement (WebhookOutboxSql.ScanJson). Inserting, reading, deleting and vacuuming
-- the outbox, and looking up every scan again to describe it, was most of a delivered scan's cost in PostgreSQL; the
-- first is now paid per row of hundreds and the lookup not at all. A delivery takes whole rows, and the first part of a
-- row larger than what is left of its batch (the rest stays, its arrays cut). Deleting a code removes its scans from
-- the rows (CodeRepository). Code events, and scan events queued again by a replay (data read from the scan row when
-- delivered), stay one row each (event_count 1). For a batch row, event_id, qr_code_id and occurred_at are its first
-- scan's.
ALTER TABLE webhook_outbox
    ADD COLUMN event_count integer       NOT NULL DEFAULT 1,
    ADD COLUMN scan_codes  bigint[]      NULL,
    ADD COLUMN scan_times  timestamptz[] NULL,
    ADD COLUMN scan_ids    uuid[]        NULL,
    ADD COLUMN scan_data   text[]        NULL,
    ADD CONSTRAINT webhook_outbox_scan_batch CHECK (
        scan_ids IS NULL AND scan_codes IS NULL AND scan_times IS NULL AND scan_data IS NULL
        OR event_type = 'scan' AND event_count = cardinality(scan_ids)
           AND cardinality(scan_codes) = event_count AND cardinality(scan_times) = event_count
           AND cardinality(scan_data) = event_count);
-- Scan keys barely compress (random ids): stored out of line without compression, so neither the writer nor the
-- delivery spends time on it. The JSON compresses several times, with lz4 where the server has it (as 0302).
ALTER TABLE webhook_outbox
    ALTER COLUMN scan_codes SET STORAGE EXTERNAL,
    ALTER COLUMN scan_times SET STORAGE EXTERNAL,
    ALTER COLUMN scan_ids SET STORAGE EXTERNAL;
DO $$
BEGIN
    ALTER TABLE webhook_outbox ALTER COLUMN scan_data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: webhook_outbox.scan_data stays compressed with pglz';
END $$;
