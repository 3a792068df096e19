-- A code's lifetime totals, added to by the silos' rollup sinks in their flush transaction (never overwritten,
-- so two activations of one code both count) and read with the code's row in one statement when a code grain
-- activates. Before, they were Orleans grain state: a second read per activation, and a write per code every 30 s.
CREATE TABLE qr_code_totals (
    qr_code_id   bigint      PRIMARY KEY,
    total_scans  bigint      NOT NULL DEFAULT 0,
    last_scan_at timestamptz NULL
) WITH (fillfactor = 70);

-- The rollups hold every recorded scan (raw scans may have been dropped by retention); the last scan is taken from
-- the raw scans of the code's last hour when they are still there.
INSERT INTO qr_code_totals (qr_code_id, total_scans, last_scan_at)
SELECT r.qr_code_id, r.total,
       COALESCE((SELECT max(s.scanned_at) FROM qr_scans s
                  WHERE s.qr_code_id = r.qr_code_id AND s.scanned_at >= r.last_hour), r.last_hour)
  FROM (SELECT qr_code_id, sum(scans) AS total, max(hour) AS last_hour
          FROM qr_rollup_hourly WHERE scans > 0 GROUP BY qr_code_id) r
 WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = r.qr_code_id);
