-- Raw scans keyed by their code first: PRIMARY KEY (qr_code_id, scanned_at, id) instead of (scanned_at, id) plus
-- the index (qr_code_id, scanned_at). Two reasons (docs/scaling.md):
--  * Citus (and any sharding by code) requires every primary key and unique index of a table distributed by
--    qr_code_id to contain qr_code_id; the rollup tables already lead with it, so all scan data can then be
--    distributed and co-located by code.
--  * One index instead of two on the busiest table: the new key serves what qr_scans_code_time served (a code's
--    scans by time: CSV export, rebuild, delete), and deduplication is unchanged because a scan's id and time
--    always come with the same code (the writers' ON CONFLICT DO NOTHING names no constraint).
-- On a large table this rebuilds the key on every partition under an exclusive lock: apply it in a quiet hour.
ALTER TABLE qr_scans DROP CONSTRAINT qr_scans_pkey;
ALTER TABLE qr_scans ADD CONSTRAINT qr_scans_pkey PRIMARY KEY (qr_code_id, scanned_at, id);
DROP INDEX qr_scans_code_time;
