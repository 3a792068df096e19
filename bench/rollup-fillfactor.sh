#!/usr/bin/env bash
# PostgreSQL's side of the rollup flush at two table fillfactors (migration 0010_rollup_fillfactor.sql), on a
# throwaway server: FLUSHES flushes (default 20), each upserting, for CODES codes (default 10,000), five dimension
# rows that exist after the first flush (updates: scans = scans + 1) and three new city rows (inserts), the way
# RollupRepository upserts qr_rollup_dims_hourly. Each fillfactor runs twice, alternating; it prints the time,
# how many updates were HOT (new row version on the same page, no index entry) and the table's size.
# PostgreSQL comes from scripts/pg.sh (the Debian package, installed when missing).
set -euo pipefail
flushes=${FLUSHES:-20}; codes=${CODES:-10000}
for v in flushes codes; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "rollup-fillfactor.sh: $v must be a positive integer" >&2; exit 2; }; done
# A throwaway server ($d, $port, psql as p): bench/lib/throwaway-pg.sh.
source "$(dirname "$0")/lib/throwaway-pg.sh"
for ff in 100 80 100 80; do
  p -c "DROP TABLE IF EXISTS dims" -c "CREATE TABLE dims (qr_code_id bigint NOT NULL, hour timestamptz NOT NULL,
    dim text NOT NULL, value text NOT NULL, scans bigint NOT NULL DEFAULT 0, latitude double precision, longitude double precision,
    PRIMARY KEY (qr_code_id, hour, dim, value)) WITH (fillfactor = $ff)" 2>/dev/null
  t0=$(date +%s.%N)
  for f in $(seq 1 "$flushes"); do
    p <<SQL
BEGIN;
INSERT INTO dims AS r SELECT c, '2026-12-01 10:00+00', d, v, 1, NULL, NULL FROM generate_series(1, $codes) c,
  (VALUES ('country', 'FR'), ('country', 'unknown'), ('device', 'mobile'), ('os', 'iOS'), ('browser', 'Safari')) AS x (d, v)
ON CONFLICT (qr_code_id, hour, dim, value) DO UPDATE SET scans = r.scans + excluded.scans;
INSERT INTO dims AS r SELECT c, '2026-12-01 10:00+00', 'city', 'FR|City' || ($f * 3 + k), 1, 48.1, 2.3
  FROM generate_series(1, $codes) c, generate_series(1, 3) k
ON CONFLICT (qr_code_id, hour, dim, value) DO UPDATE SET scans = r.scans + excluded.scans;
COMMIT;
SQL
  done
  t1=$(date +%s.%N)
  echo "fillfactor $ff: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s for $flushes flushes of $codes codes; $(p -c "SELECT n_tup_hot_upd || ' of ' || n_tup_upd || ' updates HOT, table ' || pg_size_pretty(pg_total_relation_size('dims')) FROM pg_stat_user_tables WHERE relname = 'dims'")"
done
