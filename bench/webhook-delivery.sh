#!/usr/bin/env bash
# Webhook delivery rate (issue #24): how many events per second one silo posts to a local receiver, in batches.
#
#   bench/webhook-delivery.sh            100,000 scan events
#   EVENTS=20000 bench/webhook-delivery.sh
#
# Starts a throwaway PostgreSQL, one gateway co-hosting its silo (Webhooks:AllowPrivateAddresses=true, the receiver
# is on loopback) and bench/lib/webhook-receiver.py (loopback, checks every signature), registers one endpoint through
# the API, then queues EVENTS scans and their events in one transaction (as the scan writer would) and times until
# the receiver has them all: events/s, requests/s, and the CPU of the silo and of PostgreSQL per 1,000 events.
# Everything stops by itself (TIME_LIMIT s, default 600) and is removed.
# Environment: EVENTS (100000), BATCH_SIZE (Webhooks:BatchSize, 500), WORKERS (Webhooks:Workers, 2), TIME_LIMIT (600),
# PROFILE (1: perf samples every CPU during the delivery and prints the top methods of the silo and of PostgreSQL;
# needs perf, as bench/profile.sh), KEEP (1: the perf data and logs stay in the printed directory).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source "$root/bench/lib/proc.sh"
events=${EVENTS:-100000}; batch=${BATCH_SIZE:-500}; workers=${WORKERS:-2}; time_limit=${TIME_LIMIT:-600}; profile=${PROFILE:-0}
[[ $profile == 0 || $profile == 1 ]] || { echo "bench/webhook-delivery.sh: PROFILE must be 0 or 1" >&2; exit 2; }
(( profile == 0 )) || command -v perf >/dev/null || { echo "bench/webhook-delivery.sh: PROFILE=1 needs perf (Debian package linux-perf)" >&2; exit 2; }
for v in events batch workers time_limit; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/webhook-delivery.sh: ${v^^} must be a positive integer" >&2; exit 2; }
done
die() { echo "bench/webhook-delivery.sh: FAILED: $*" >&2; exit 1; }
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is required"
command -v python3 >/dev/null || die "python3 is required (the receiver)"
command -v curl >/dev/null || die "curl is required"

work=$(mktemp -d /tmp/invexqr-hookbench.XXXXXX); chmod 755 "$work"
pids=(); pg_dir=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "${watchdog:-}" ]] && kill "$watchdog" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -ne 0 ]]; then for log in "$work"/*.log; do [[ -s $log ]] && { echo "--- $(basename "$log")"; tail -n 15 "$log"; }; done; fi
  [[ -n "$pg_dir" ]] && bash scripts/pg.sh stop "$pg_dir" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then rm -rf "$pg_dir"; echo "(KEEP: perf data and logs in $work)"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_watchdog "$time_limit" bench/webhook-delivery.sh
watchdog=$!

timeout 600 dotnet build src/Gateway/InvexQr.Gateway.csproj -c Release -nologo -clp:ErrorsOnly >"$work/build.log" 2>&1 \
  || { tail -n 20 "$work/build.log"; die "dotnet build failed"; }
timeout 300 bash scripts/fetch-data.sh >/dev/null || die "scripts/fetch-data.sh failed"
timeout 300 bash scripts/pg.sh install >/dev/null || die "scripts/pg.sh install failed"
head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$work/pg-password"
pg_dir="$work/pg"
bash scripts/pg.sh init "$pg_dir" "$work/pg-password" >/dev/null || die "initdb failed"
pg_port=$(bash scripts/pg.sh free-port $((20000 + RANDOM % 20000)))
bash scripts/pg.sh start "$pg_dir" "$pg_port" >/dev/null || die "PostgreSQL did not start"
postmaster=$(head -1 "$pg_dir/postmaster.pid")
export PGPASSWORD; PGPASSWORD=$(cat "$work/pg-password")
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE hooks" >/dev/null
sql() { timeout 300 psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d hooks -v ON_ERROR_STOP=1 -qtAX "$@"; }

bash scripts/cluster-certs.sh "$work/tls" >/dev/null || die "scripts/cluster-certs.sh failed"
http_port=$(bash scripts/pg.sh free-port $((pg_port + 1)))
receiver_port=$(bash scripts/pg.sh free-port $((http_port + 1)))
gateway="http://127.0.0.1:$http_port"
api_key="bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
python3 bench/lib/webhook-receiver.py "$receiver_port" --seconds "$time_limit" --secret-file "$work/secret" > "$work/receiver.log" 2>&1 &
pids+=($!)
env "ConnectionStrings__Postgres=Host=127.0.0.1;Port=$pg_port;Database=hooks;Username=invexqr;Password=$PGPASSWORD" \
  "Orleans__ClusterId=hooks-$$" "Orleans__ServiceId=bench" "Orleans__SiloName=hooks" \
  "Orleans__SiloPort=$(bash scripts/pg.sh free-port $((receiver_port + 1)))" \
  "Orleans__GatewayPort=$(bash scripts/pg.sh free-port $((receiver_port + 101)))" \
  "Orleans__Tls__CaPath=$work/tls/ca.crt" "Orleans__Tls__CertificatePath=$work/tls/silo.crt" "Orleans__Tls__KeyPath=$work/tls/silo.key" \
  "Auth__ApiKey=$api_key" "Gateway__PublicBaseUrl=$gateway" "Gateway__CoHostSilo=true" \
  "Webhooks__AllowPrivateAddresses=true" "Webhooks__BatchSize=$batch" "Webhooks__Workers=$workers" \
  DOTNET_PerfMapEnabled=$profile DOTNET_EnableWriteXorExecute=$((1 - profile)) ASPNETCORE_URLS="$gateway" dotnet src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll > "$work/gateway.log" 2>&1 &
gateway_pid=$!; pids+=("$gateway_pid")
for _ in $(seq 1 240); do
  curl -fsS -o /dev/null "$gateway/health/ready" 2>/dev/null && break
  kill -0 "$gateway_pid" 2>/dev/null || die "the gateway exited during start-up"
  sleep 0.5
done
curl -fsS -o /dev/null "$gateway/health/ready" || die "the gateway did not become ready within 120 s"

auth=(-H "Authorization: Bearer $api_key" -H 'Content-Type: application/json')
curl -fsS "${auth[@]}" -X POST "$gateway/api/webhooks" -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"events\":[\"scan\"]}" > "$work/endpoint.json" \
  || die "POST /api/webhooks failed"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/endpoint.json" > "$work/secret"
curl -fsS "${auth[@]}" -X POST "$gateway/api/codes" -d '{"targetUrl":"https://example.org/rate","code":"rate"}' >/dev/null || die "POST /api/codes failed"

# The events a scan writer would have queued: scans, and outbox rows of up to 500 scans' keys and event data each, in
# scan order (the data with the fields of WebhookOutboxSql.ScanJson, built here more simply). Counted from the commit:
# the CPU is the delivery's alone.
ticks=$(getconf CLK_TCK)
sql <<SQL >/dev/null || die "queueing the events failed"
WITH scans AS (
    INSERT INTO qr_scans (id, qr_code_id, scanned_at, country_code, subdivision, city, latitude, longitude, device_type, os, browser)
    SELECT gen_random_uuid(), c.id, now() - g * interval '1 millisecond', 'GB', 'England', 'London', 51.5, -0.12, 'mobile', 'iOS', 'Mobile Safari'
      FROM qr_codes c, generate_series(1, $events) AS g
     WHERE c.code = 'rate'
    RETURNING id, qr_code_id, scanned_at, country_code, subdivision, city, latitude, longitude, device_type, os, browser, is_bot, is_repeat),
numbered AS (
    SELECT *, (row_number() OVER (ORDER BY scanned_at, id) - 1) / 500 AS chunk,
           json_build_object('scanId', id, 'code', 'rate', 'scannedAt', scanned_at, 'country', country_code, 'region', subdivision,
                             'city', city, 'latitude', latitude, 'longitude', longitude, 'deviceType', device_type, 'os', os,
                             'browser', browser, 'isBot', is_bot, 'isRepeat', is_repeat)::text AS data
      FROM scans),
chunks AS (
    SELECT chunk, count(*) AS n, array_agg(qr_code_id ORDER BY scanned_at, id) AS codes,
           array_agg(scanned_at ORDER BY scanned_at, id) AS times, array_agg(id ORDER BY scanned_at, id) AS ids,
           array_agg(data ORDER BY scanned_at, id) AS data
      FROM numbered GROUP BY chunk)
INSERT INTO webhook_outbox (endpoint_id, event_id, event_type, qr_code_id, occurred_at, event_count, scan_codes, scan_times, scan_ids, scan_data)
SELECT e.id, c.ids[1], 'scan', c.codes[1], c.times[1], c.n, c.codes, c.times, c.ids, c.data
  FROM chunks c, webhook_endpoints e ORDER BY e.id, c.chunk;
SQL
cpu0=$(cpu_ticks "$gateway_pid"); pg0=$(postgres_ticks "$postmaster")
queued=$(date +%s.%N)
if (( profile )); then
  perf record -F 499 -a -g -o "$work/perf.data" > "$work/perf-record.log" 2>&1 &
  recorder=$!
fi
while :; do
  read -r requests received first last bad < <(curl -fsS "http://127.0.0.1:$receiver_port/stats")
  (( received >= events )) && [[ $(sql -c "SELECT count(*) FROM webhook_outbox") == 0 ]] && break
  kill -0 "$gateway_pid" 2>/dev/null || die "the gateway exited"
  sleep 0.2
done
cpu1=$(cpu_ticks "$gateway_pid"); pg1=$(postgres_ticks "$postmaster")
if (( profile )); then kill -INT "$recorder"; wait "$recorder" || true; fi
(( bad == 0 )) || die "$bad requests failed the signature check"
seconds=$(awk "BEGIN { printf \"%.2f\", $last - $queued }")
echo "webhook delivery: $events scan events queued at once, delivered to one loopback receiver in $seconds s:"
awk -v e="$events" -v r="$requests" -v s="$seconds" -v g="$((cpu1 - cpu0))" -v p="$((pg1 - pg0))" -v t="$ticks" -v b="$batch" -v w="$workers" 'BEGIN {
  printf "  %.0f events/s in %d requests (%.1f requests/s, BatchSize %d, Workers %d, every signature checked)\n", e / s, r, r / s, b, w
  printf "  CPU per 1,000 events: silo (co-hosting gateway) %.0f ms, PostgreSQL %.0f ms\n", 1000 * g / t / e * 1000, 1000 * p / t / e * 1000 }'
if (( profile )); then
  report() { # TITLE perf-report-filter
    echo "$1: top 25 methods by self time (% of its samples)"
    perf report -i "$work/perf.data" --no-children -g none --percentage relative --sort dso,sym --stdio $2 2>/dev/null \
      | grep -E '^ +[0-9]' | head -25 | sed -E 's/ +\[[.kx]\] / /; s/^/  /' | cut -c1-170 || true
  }
  report "silo (co-hosting gateway, pid $gateway_pid)" "--pid $gateway_pid"
  report "PostgreSQL" "--comm postgres"
fi
