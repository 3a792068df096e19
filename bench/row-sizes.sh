#!/usr/bin/env bash
# Bytes on disk per raw scan and per rollup row, and the rate one PostgreSQL takes scan batches the way the scan
# sink writes them (COPY into a temporary staging table, INSERT … WHERE EXISTS … ON CONFLICT DO NOTHING, one
# transaction per batch, one connection), on a throwaway server with the real schema (src/Data/Migrations, applied
# in order with psql). Numbers for docs/scaling.md.
#
#   bench/row-sizes.sh            ROWS=500000 scans in batches of BATCH=5000, CODES=10000 codes
#
# Scans are shaped like the realistic mix's (bench/lib/scan.lua): a phone user agent of 130 characters, an IPv4
# /24, country, region and city with coordinates, device, OS, browser, a visitor hash; no referrer. The sizes are
# pg_total_relation_size (heap, TOAST, every index) after VACUUM ANALYZE, over the rows written. The scans are
# written twice: into qr_scans as the migrations leave it, and into a copy keyed as before migration 0100
# (PRIMARY KEY (scanned_at, id) plus an index on (qr_code_id, scanned_at)).
set -euo pipefail
rows=${ROWS:-500000}; batch=${BATCH:-5000}; codes=${CODES:-10000}
for v in rows batch codes; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench/row-sizes.sh: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done
(( rows % batch == 0 && rows <= 20000000 )) || { echo "bench/row-sizes.sh: ROWS must be a multiple of BATCH and at most 20000000" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
# A throwaway server ($d, $port, psql as p): bench/lib/throwaway-pg.sh.
source "$root/bench/lib/throwaway-pg.sh"
for m in "$root"/src/Data/Migrations/*.sql; do p -f "$m" >/dev/null || { echo "bench/row-sizes.sh: $(basename "$m") failed" >&2; exit 1; }; done
echo "bench/row-sizes.sh: PostgreSQL $(p -c 'SHOW server_version'), schema from $(ls "$root"/src/Data/Migrations/*.sql | wc -l) migrations; $rows scans in batches of $batch over $codes codes"

p <<SQL >/dev/null
INSERT INTO owners (name, role) VALUES ('bench', 'admin');
INSERT INTO qr_codes (code, owner_id, target_url)
SELECT 'r' || lpad(g::text, 6, '0'), (SELECT id FROM owners WHERE name = 'bench'), 'https://example.org/' || g FROM generate_series(1, $codes) g;
CREATE TABLE scans_before (LIKE qr_scans INCLUDING DEFAULTS);
ALTER TABLE scans_before ADD PRIMARY KEY (scanned_at, id);
CREATE INDEX ON scans_before (qr_code_id, scanned_at);
SQL
first_code=$(p -c "SELECT min(id) FROM qr_codes")
# One batch as binary COPY input would be, generated server-side into a file (not timed).
gen() { # FILE SEED
  p -c "COPY (SELECT uuidv7_like, $first_code + (g * 7919 + $2) % $codes, ts, '81.2.' || (g % 250) || '.0',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
      NULL, 'GB', 'United Kingdom', 'England', 'London', 51.5142, -0.0931, 'mobile', 'iOS', 'Mobile Safari',
      false, g % 5 = 0, (random() * 9.2e18)::bigint
    FROM (SELECT g, clock_timestamp() AS ts,
                 (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(g::text || random()::text), 1, 20))::uuid AS uuidv7_like
            FROM generate_series(1, $batch) g) s) TO STDOUT" > "$1"
}
columns="id, qr_code_id, scanned_at, ip_address, user_agent, referer, country_code, country, subdivision, city, latitude, longitude, device_type, os, browser, is_bot, is_repeat, visitor_hash"
batches=$(( rows / batch ))
for i in $(seq "$batches"); do gen "$d/b$i.tsv" "$i"; done

write() { # TABLE: every batch the sink's way, timed; prints rows/s
  local table=$1 t0 t1
  t0=$(date +%s.%N)
  for i in $(seq "$batches"); do
    p <<SQL >/dev/null
BEGIN;
CREATE TEMP TABLE IF NOT EXISTS qr_scans_stage (LIKE qr_scans INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
\copy qr_scans_stage ($columns) FROM '$d/b$i.tsv'
INSERT INTO $table ($columns) SELECT $columns FROM qr_scans_stage s
 WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = s.qr_code_id) ON CONFLICT DO NOTHING;
COMMIT;
SQL
  done
  t1=$(date +%s.%N)
  awk -v r="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }'
}
rate_after=$(write qr_scans)
rate_before=$(write scans_before)
p -c "VACUUM ANALYZE" >/dev/null
stored=$(p -c "SELECT count(*) FROM qr_scans")
(( stored == rows )) || { echo "bench/row-sizes.sh: $stored rows stored of $rows" >&2; exit 1; }
size_after=$(p -c "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'qr_scans'::regclass")
heap_after=$(p -c "SELECT sum(pg_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'qr_scans'::regclass")
size_before=$(p -c "SELECT pg_total_relation_size('scans_before')")
echo "raw scans, per row: $(( size_after / rows )) bytes with the key of migration 0100 (heap $(( heap_after / rows )), key $(( (size_after - heap_after) / rows )));" \
     "$(( size_before / rows )) bytes keyed as before it (two indexes)"
echo "staged batch writes, one connection, psql per batch (includes psql's start-up): $rate_after rows/s with 0100's key, $rate_before rows/s keyed as before"
echo "  (machine load average $(cut -d' ' -f1-3 /proc/loadavg): rates on a busy machine are low bounds)"

# Rollups: a day of hourly rows for every code, each hour with the dimension values of one scan (country, city,
# device, OS, browser), the daily rows, and 200 unique-visitor registers per code and day.
p <<SQL >/dev/null
INSERT INTO qr_rollup_hourly (qr_code_id, hour, scans, humans, bots, repeats, throttled)
SELECT c.id, date_trunc('day', now()) + make_interval(hours => h), 40, 36, 4, 7, 0 FROM qr_codes c, generate_series(0, 23) h;
INSERT INTO qr_rollup_dims_hourly (qr_code_id, hour, dim, value, scans, latitude, longitude)
SELECT c.id, date_trunc('day', now()) + make_interval(hours => h), d.dim, d.value, 40, d.lat, d.lon
  FROM qr_codes c, generate_series(0, 23) h,
       (VALUES ('country', 'GB', NULL::float8, NULL::float8), ('city', 'GB|London', 51.5142, -0.0931), ('device', 'mobile', NULL, NULL),
               ('os', 'iOS', NULL, NULL), ('browser', 'Mobile Safari', NULL, NULL)) d (dim, value, lat, lon);
INSERT INTO qr_rollup_dims_daily (qr_code_id, day, dim, value, scans, latitude, longitude)
SELECT qr_code_id, (hour AT TIME ZONE 'UTC')::date, dim, value, sum(scans), min(latitude), min(longitude) FROM qr_rollup_dims_hourly GROUP BY 1, 2, 3, 4;
INSERT INTO qr_rollup_visitor_registers (qr_code_id, day, register, rank)
SELECT c.id, current_date, r * 10, 1 + r % 20 FROM qr_codes c, generate_series(0, 199) r;
VACUUM ANALYZE;
SQL
for t in qr_rollup_hourly qr_rollup_dims_hourly qr_rollup_dims_daily qr_rollup_visitor_registers; do
  n=$(p -c "SELECT count(*) FROM $t"); s=$(p -c "SELECT pg_total_relation_size('$t')")
  echo "$t: $(( s / n )) bytes per row ($n rows)"
done
