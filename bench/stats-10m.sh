#!/usr/bin/env bash
# Stats of a code with 10 million raw scans (issue #5): the stats API reads rollups, never raw scans,
# so its latency must not depend on how many scans a code has. This script:
#   1. starts a throwaway PostgreSQL, a silo and a gateway (all on loopback, cleaned up on exit);
#   2. creates one code and inserts ROWS raw scans for it spread over the last 365 days (SQL
#      generate_series: countries, cities with coordinates, devices, OS, browsers, bots, visitors);
#   3. rebuilds its rollups from the raw scans with the operator command (timed);
#   4. times each stats call shape N times (p50/p95/max) next to /health/live of the same gateway
#      as the baseline of the same run, and prints a table.
#
#   bench/stats-10m.sh               10,000,000 scans (a few minutes on 2 cores)
#   ROWS=200000 bench/stats-10m.sh   quick check
# Target: every stats call under 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rows=${ROWS:-10000000}
calls=${CALLS:-50}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

command -v dotnet >/dev/null || { echo "stats-10m: the .NET 10 SDK is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "stats-10m: curl is required" >&2; exit 1; }
bash scripts/pg.sh install >/dev/null
bash scripts/fetch-data.sh >/dev/null
dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly >/dev/null

work=$(mktemp -d)
chmod 755 "$work" # PostgreSQL runs as an unprivileged user when we are root: it must reach its directory
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$work/pw"
bash scripts/pg.sh init "$work/pg" "$work/pw" >/dev/null
pg_port=$(bash scripts/pg.sh free-port 56432)
bash scripts/pg.sh start "$work/pg" "$pg_port" >/dev/null
export PGPASSWORD=$(cat "$work/pw")
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE bench" >/dev/null
psql_bench() { psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d bench -v ON_ERROR_STOP=1 -qtA "$@"; }

export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Database=bench;Username=invexqr;Password=$PGPASSWORD"
export Orleans__ClusterId=bench-stats Orleans__ServiceId=bench-stats Auth__ApiKey="bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export Orleans__SiloPort=$(bash scripts/pg.sh free-port 21311) Orleans__GatewayPort=$(bash scripts/pg.sh free-port 31311)
export Logging__LogLevel__Default=Warning
# Cluster TLS as deployments run it: the silo's certificate, the client-only one for the gateway below.
bash scripts/cluster-certs.sh "$work/tls" >/dev/null
export Orleans__Tls__CaPath="$work/tls/ca.crt" Orleans__Tls__CertificatePath="$work/tls/silo.crt" Orleans__Tls__KeyPath="$work/tls/silo.key"
silo_http=$(bash scripts/pg.sh free-port 18281)
gateway_http=$(bash scripts/pg.sh free-port 18280)
gateway="http://127.0.0.1:$gateway_http"
ASPNETCORE_URLS="http://127.0.0.1:$silo_http" dotnet src/Silo/bin/Release/net10.0/InvexQr.Silo.dll > "$work/silo.log" 2>&1 &
pids+=($!)
ASPNETCORE_URLS="$gateway" Orleans__Tls__CertificatePath="$work/tls/gateway.crt" Orleans__Tls__KeyPath="$work/tls/gateway.key" \
  dotnet src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll > "$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do
  curl -fsS "$gateway/health/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$gateway/health/ready" >/dev/null || { cat "$work/silo.log" "$work/gateway.log" >&2; echo "stats-10m: not ready" >&2; exit 1; }

auth=(-H "Authorization: Bearer $Auth__ApiKey")
curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -X POST "$gateway/api/codes" \
  -d '{"targetUrl":"https://example.org/ten-million","code":"ten-million"}' >/dev/null
code_id=$(psql_bench -c "SELECT id FROM qr_codes WHERE code = 'ten-million'")

echo "==> inserting $rows raw scans over the last 365 days"
start=$(date +%s.%N)
psql_bench <<SQL >/dev/null
SELECT invexqr_ensure_scan_partition(now() - make_interval(months => m)) FROM generate_series(0, 12) AS m;
INSERT INTO qr_scans (id, qr_code_id, scanned_at, ip_address, user_agent, country_code, country, city, latitude, longitude,
                      device_type, os, browser, is_bot, is_repeat, visitor_hash)
SELECT gen_random_uuid(), $code_id, now() - interval '365 days' * random(),
       '81.2.69.0', 'bench', c.code, c.name, c.city, c.lat, c.lon,
       d.device, d.os, d.browser, d.device = 'bot', random() < 0.1, (random() * 9e15)::bigint
  FROM generate_series(1, $rows) AS g
  CROSS JOIN LATERAL (SELECT (ARRAY['GB','FR','DE','US','SE','ES','IT','NL','JP','BR','IN','CA'])[1 + (g % 12)] AS code) k
  CROSS JOIN LATERAL (SELECT k.code,
         (ARRAY['United Kingdom','France','Germany','United States','Sweden','Spain','Italy','Netherlands','Japan','Brazil','India','Canada'])[1 + (g % 12)] AS name,
         (ARRAY['London','Paris','Berlin','New York','Stockholm','Madrid','Rome','Amsterdam','Tokyo','São Paulo','Mumbai','Toronto'])[1 + (g % 12)]
           || CASE WHEN g % 7 = 0 THEN ' ' || (g % 40)::text ELSE '' END AS city,
         -60 + (g % 120)::float8 AS lat, -150 + (g % 300)::float8 AS lon) c
  CROSS JOIN LATERAL (SELECT (ARRAY['mobile','mobile','mobile','desktop','desktop','tablet','bot','other'])[1 + (g % 8)] AS device,
         (ARRAY['iOS','Android','Windows','Mac OS X','Linux','Chrome OS'])[1 + (g % 6)] AS os,
         (ARRAY['Mobile Safari','Chrome Mobile','Chrome','Firefox','Edge','Samsung Internet','Googlebot'])[1 + (g % 7)] AS browser) d;
ANALYZE qr_scans;
SQL
insert_s=$(echo "$(date +%s.%N) - $start" | bc)

echo "==> rebuilding the code's rollups from raw scans"
start=$(date +%s.%N)
dotnet src/Silo/bin/Release/net10.0/InvexQr.Silo.dll rollups rebuild --code ten-million \
  --from "$(date -u -d '367 days ago' +%F)" --to "$(date -u +%F)" --urls "http://127.0.0.1:$(bash scripts/pg.sh free-port 18381)" 2>&1 | grep -v '^\s*$' | tail -n1
rebuild_s=$(echo "$(date +%s.%N) - $start" | bc)
# A live system's rollup tables are vacuumed and analysed by autovacuum as they grow; right after a bulk
# rebuild they are not (no statistics, no hint bits), which measures the rebuild's aftermath, not the stats.
psql_bench -c "VACUUM ANALYZE qr_rollup_hourly, qr_rollup_dims_hourly, qr_rollup_dims_daily, qr_rollup_visitor_registers" >/dev/null
raw=$(psql_bench -c "SELECT count(*) FROM qr_scans WHERE qr_code_id = $code_id")
hourly=$(psql_bench -c "SELECT count(*) FROM qr_rollup_hourly WHERE qr_code_id = $code_id")
dims=$(psql_bench -c "SELECT (SELECT count(*) FROM qr_rollup_dims_hourly WHERE qr_code_id = $code_id) || ' hourly, ' || (SELECT count(*) FROM qr_rollup_dims_daily WHERE qr_code_id = $code_id) || ' daily'")

# Times one URL CALLS times after 5 warm-up calls; prints "p50 p95 max" in ms.
measure() {
  local url=$1; shift
  for _ in 1 2 3 4 5; do curl -fsS -o /dev/null "$@" "$url"; done
  for _ in $(seq 1 "$calls"); do curl -fsS -o /dev/null -w '%{time_total}\n' "$@" "$url"; done \
    | sort -n | awk '{ v[NR] = $1 * 1000 } END { printf "%.1f %.1f %.1f\n", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.95 + 0.5)], v[NR] }'
}

today=$(date -u +%F)
declare -a names urls
names+=("baseline: GET /health/live");                 urls+=("$gateway/health/live")
names+=("last 30 days by day (default)");             urls+=("$gateway/api/codes/ten-million/stats")
names+=("last 7 days by hour, Europe/Paris");          urls+=("$gateway/api/codes/ten-million/stats?granularity=hour&from=$(date -u -d '6 days ago' +%F)&to=$today&tz=Europe/Paris")
names+=("one year by week, America/New_York");        urls+=("$gateway/api/codes/ten-million/stats?granularity=week&from=$(date -u -d '364 days ago' +%F)&to=$today&tz=America/New_York")
names+=("one year by month, UTC");                    urls+=("$gateway/api/codes/ten-million/stats?granularity=month&from=$(date -u -d '364 days ago' +%F)&to=$today")
names+=("account summary, one year by day");         urls+=("$gateway/api/stats?granularity=day&from=$(date -u -d '364 days ago' +%F)&to=$today")

echo
echo "Stats of a code with $raw raw scans (rollups: $hourly code-hours; dimension rows: $dims)"
printf 'insert %.0f s, rollups rebuild %.0f s; %s calls per row, sequential, one connection each (curl)\n\n' "$insert_s" "$rebuild_s" "$calls"
printf '%-40s %9s %9s %9s\n' "call" "p50 ms" "p95 ms" "max ms"
worst=0
for i in "${!names[@]}"; do
  if [[ $i -eq 0 ]]; then read -r p50 p95 max < <(measure "${urls[$i]}"); else read -r p50 p95 max < <(measure "${urls[$i]}" "${auth[@]}"); fi
  printf '%-40s %9s %9s %9s\n' "${names[$i]}" "$p50" "$p95" "$max"
  [[ $i -gt 0 ]] && worst=$(echo "if ($p95 > $worst) $p95 else $worst" | bc)
done
echo
echo "slowest stats call p95: $worst ms (target < 50 ms)"
if [[ -n "${KEEP:-}" ]]; then # inspect the data (EXPLAIN …) before everything is removed; stops by itself
  echo "KEEP: psql -h 127.0.0.1 -p $pg_port -U invexqr -d bench (password $PGPASSWORD); code id $code_id; gateway $gateway; kept for ${KEEP} s"
  sleep "$KEEP"
fi
