-- Scan flags the grain decides at scan time, kept on the raw row so rollups can be rebuilt from it.
--   is_repeat:    the same address scanned this code within the repeat window (still a scan, not a new visitor)
--   visitor_hash: keyed hash of address + user agent under the day's salt (see privacy_salts); lets
--                 "unique visitors" be counted without the address. NULL when the visitor asked not to be tracked.
ALTER TABLE qr_scans
    ADD COLUMN is_repeat    boolean NOT NULL DEFAULT false,
    ADD COLUMN visitor_hash bigint  NULL;

-- Per-code throttling overrides (NULL = the configured defaults).
ALTER TABLE qr_codes
    ADD COLUMN throttle_burst      integer NULL,
    ADD COLUMN throttle_per_minute integer NULL,
    ADD CONSTRAINT qr_codes_throttle_bounds CHECK (
        (throttle_burst IS NULL OR throttle_burst BETWEEN 1 AND 100000) AND
        (throttle_per_minute IS NULL OR throttle_per_minute BETWEEN 1 AND 1000000));

-- Hourly counters per code (UTC hours). Written by the silos' rollup sink as additive upserts.
-- throttled cannot be rebuilt from raw scans (throttled requests are not stored as rows).
CREATE TABLE qr_rollup_hourly (
    qr_code_id bigint      NOT NULL,
    hour       timestamptz NOT NULL,
    scans      bigint      NOT NULL DEFAULT 0,  -- every recorded scan (humans + bots)
    humans     bigint      NOT NULL DEFAULT 0,
    bots       bigint      NOT NULL DEFAULT 0,
    repeats    bigint      NOT NULL DEFAULT 0,  -- human scans that were repeats
    throttled  bigint      NOT NULL DEFAULT 0,  -- answered 429, not recorded as scans
    PRIMARY KEY (qr_code_id, hour)
);

-- Breakdown of recorded scans by dimension: country, city, device, os, browser. Kept per hour (exact
-- period edges in any time zone) and per UTC day (long periods read ~24x fewer rows).
-- city values are 'CC|City'; latitude/longitude are the city's.
CREATE TABLE qr_rollup_dims_hourly (
    qr_code_id bigint           NOT NULL,
    hour       timestamptz      NOT NULL,
    dim        text             NOT NULL,
    value      text             NOT NULL,
    scans      bigint           NOT NULL DEFAULT 0,
    latitude   double precision NULL,
    longitude  double precision NULL,
    PRIMARY KEY (qr_code_id, hour, dim, value)
);

CREATE TABLE qr_rollup_dims_daily (
    qr_code_id bigint           NOT NULL,
    day        date             NOT NULL,
    dim        text             NOT NULL,
    value      text             NOT NULL,
    scans      bigint           NOT NULL DEFAULT 0,
    latitude   double precision NULL,
    longitude  double precision NULL,
    PRIMARY KEY (qr_code_id, day, dim, value)
);

-- Unique visitors per code and UTC day: a HyperLogLog sketch of the day's visitor hashes.
CREATE TABLE qr_rollup_uniques_daily (
    qr_code_id bigint NOT NULL,
    day        date   NOT NULL,
    sketch     bytea  NOT NULL,
    PRIMARY KEY (qr_code_id, day)
);

-- The secret salt of each UTC day for visitor and IP hashes. Rows older than two days are deleted,
-- after which nobody (us included) can link a stored hash back to an address.
CREATE TABLE privacy_salts (
    day  date  PRIMARY KEY,
    salt bytea NOT NULL
);
