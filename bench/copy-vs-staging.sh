#!/usr/bin/env bash
# PostgreSQL's side of writing scan batches, two ways, on a throwaway server:
#   staged  COPY into a temporary staging table, then INSERT … SELECT … WHERE EXISTS (code) ON CONFLICT DO NOTHING
#           (what src/Silo/Database/ScanWriter.cs does: replays and deleted codes are harmless)
#   direct  COPY straight into the partitioned table (faster, but a replayed row fails the whole batch)
# RUNS batches of ROWS rows each way (defaults 100 × 5000), the batches generated before the clock starts.
# PostgreSQL comes from scripts/pg.sh (the Debian package, installed when missing).
set -euo pipefail
runs=${RUNS:-100}; rows=${ROWS:-5000}
# A throwaway server ($d, $port, psql as p): bench/lib/throwaway-pg.sh.
source "$(dirname "$0")/lib/throwaway-pg.sh"
p <<'SQL'
CREATE TABLE codes (id bigint PRIMARY KEY); INSERT INTO codes SELECT g FROM generate_series(1, 10000) g;
CREATE TABLE scans (id uuid NOT NULL, code_id bigint NOT NULL, scanned_at timestamptz NOT NULL, ip text, ua text,
  country text, device text, is_bot boolean NOT NULL DEFAULT false, PRIMARY KEY (scanned_at, id)) PARTITION BY RANGE (scanned_at);
CREATE INDEX ON scans (code_id, scanned_at);
CREATE TABLE scans_default PARTITION OF scans DEFAULT;
SQL
gen() { p -c "COPY (SELECT gen_random_uuid(), 1 + (g % 10000), now() - (g || ' ms')::interval, '203.0.113.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148', 'GB', 'mobile', false
  FROM generate_series(1, $rows) g) TO STDOUT WITH CSV"; }
for i in $(seq "$runs"); do gen > "$d/a$i.csv"; gen > "$d/b$i.csv"; done
t0=$(date +%s.%N)
for i in $(seq "$runs"); do
  p <<SQL
BEGIN;
CREATE TEMP TABLE IF NOT EXISTS stage (LIKE scans INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
\copy stage FROM '$d/a$i.csv' WITH CSV
INSERT INTO scans SELECT * FROM stage s WHERE EXISTS (SELECT 1 FROM codes c WHERE c.id = s.code_id) ON CONFLICT DO NOTHING;
COMMIT;
SQL
done
t1=$(date +%s.%N)
for i in $(seq "$runs"); do p -c "\copy scans FROM '$d/b$i.csv' WITH CSV"; done
t2=$(date +%s.%N)
awk -v s="$(echo "$t1 - $t0" | bc)" -v c="$(echo "$t2 - $t1" | bc)" -v n="$runs" -v r="$rows" \
  'BEGIN { printf "%d batches of %d rows: staged %.2f s, direct %.2f s (staged costs %.0f %% more)\n", n, r, s, c, 100 * (s - c) / c }'
