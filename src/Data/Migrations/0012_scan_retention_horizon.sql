-- Where the raw scans become complete. Retention (ScanRetention) drops raw scans older than its cutoff and
-- moves this point forward; `rollups rebuild` and `rollups reconcile` never reach before it, because the rollups
-- of older periods are all that is left of their scans (rebuilding them from nothing would erase them).
CREATE TABLE scan_retention_horizon (
    id             int         PRIMARY KEY CHECK (id = 1),
    raw_scans_from timestamptz NOT NULL
);
