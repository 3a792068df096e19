-- Raw scans: append-only, the source of truth for every count. Range-partitioned by month on
-- scanned_at so that retention drops whole partitions instead of deleting rows.
--
-- id is a UUIDv7 made when the scan happened; with scanned_at (the partition key, fixed at the
-- same moment) it is the primary key, so a replayed batch can never insert a scan twice.
CREATE TABLE qr_scans (
    id            uuid             NOT NULL,
    qr_code_id    bigint           NOT NULL,
    scanned_at    timestamptz      NOT NULL,
    ip_address    text             NULL,  -- anonymised before it gets here, never the full address
    user_agent    text             NULL,
    referer       text             NULL,
    country_code  text             NULL,
    country       text             NULL,
    subdivision   text             NULL,
    city          text             NULL,
    latitude      double precision NULL,
    longitude     double precision NULL,
    device_type   text             NULL,
    os            text             NULL,
    browser       text             NULL,
    is_bot        boolean          NOT NULL DEFAULT false,
    PRIMARY KEY (scanned_at, id)
) PARTITION BY RANGE (scanned_at);

CREATE INDEX qr_scans_code_time ON qr_scans (qr_code_id, scanned_at);

-- Safety net: a scan whose month has no partition yet still lands somewhere. Partitions are
-- created months ahead (below, and by the silo's partition maintenance), so this stays empty.
CREATE TABLE qr_scans_default PARTITION OF qr_scans DEFAULT;

-- Creates the partition of the UTC month containing month_of (no-op if it exists). Serialized by
-- an advisory lock because several silos may run maintenance at the same moment.
CREATE FUNCTION invexqr_ensure_scan_partition(month_of timestamptz) RETURNS void
LANGUAGE plpgsql AS $body$
DECLARE
    lower_bound timestamptz := date_trunc('month', month_of AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month_of AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
    partition_name text := 'qr_scans_' || to_char(month_of AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('invexqr_scan_partitions'));
    IF to_regclass(partition_name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF qr_scans FOR VALUES FROM (%L) TO (%L)',
                       partition_name, lower_bound, upper_bound);
    END IF;
END;
$body$;

-- The previous month (late or replayed scans) through three months ahead.
SELECT invexqr_ensure_scan_partition(now() + make_interval(months => m))
FROM generate_series(-1, 3) AS m;
