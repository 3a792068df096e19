#!/usr/bin/env bash
# Soak test of InvexQR (issue 22): the realistic mix for a long time at half of what this machine can take, and
# whether anything grows. Not part of ./test.sh.
#
#   bench/soak.sh                 30 minutes (DURATION=1800)
#   DURATION=600 bench/soak.sh    10 minutes
#
# It starts a throwaway PostgreSQL, one silo and one gateway (separate processes, loopback), puts CODES codes in
# qr_codes, measures the maximum of the realistic mix (bench/lib/scan.lua mode "mix": codes drawn Zipf-like,
# 40,000 clients with real user agents; MEASURE s flat out), then runs the same mix paced to LOAD_PCT % of that
# maximum for DURATION s. Idle grains are collected after COLLECTION_AGE s, so codes keep activating and
# deactivating as over a day. Every INTERVAL s it prints one line per sample:
#   gateway and silo: RSS, GC heap after the last collection, open file descriptors, threads, TCP connections;
#   PostgreSQL: backends of the soak database; the silo's spool (bytes) and its qrcode activations;
#   redirects per second since the last sample.
# At the end: the slope of each series after WARMUP s (least squares, per hour and as % of its mean per hour),
# and the check that every 302 wrk received is a row in qr_scans (exit 1 if not).
#
# Environment (optional): DURATION (s, 1800), INTERVAL (s, 60), WARMUP (s excluded from the slopes; 300, at most
# half of DURATION), MEASURE (s of the maximum run, 20), LOAD_PCT (50), CODES (100000), ZIPF_S (1.1),
# COLLECTION_AGE (s, 120), CONNECTIONS (32), THREADS (2), KEEP_LOGS (set: keep the processes' logs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
source "$root/bench/lib/proc.sh"

duration=${DURATION:-1800}; interval=${INTERVAL:-60}; measure=${MEASURE:-20}; load_pct=${LOAD_PCT:-50}
codes=${CODES:-100000}; zipf_s=${ZIPF_S:-1.1}; collection_age=${COLLECTION_AGE:-120}
connections=${CONNECTIONS:-32}; threads=${THREADS:-2}
warmup=${WARMUP:-$(( duration / 2 < 300 ? duration / 2 : 300 ))}
for v in duration interval measure load_pct codes collection_age connections threads; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench/soak.sh: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done
[[ $warmup =~ ^[0-9]+$ ]] || { echo "bench/soak.sh: WARMUP must be a whole number of seconds (got '$warmup')" >&2; exit 2; }
(( load_pct <= 100 && codes <= 5000000 && collection_age >= 2 && connections >= threads )) \
  || { echo "bench/soak.sh: LOAD_PCT <= 100, CODES <= 5000000, COLLECTION_AGE >= 2, CONNECTIONS >= THREADS" >&2; exit 2; }
(( duration >= 3 * interval && warmup <= duration - 2 * interval )) \
  || { echo "bench/soak.sh: DURATION must hold 3 samples, and 2 after WARMUP (DURATION $duration, INTERVAL $interval, WARMUP $warmup)" >&2; exit 2; }
[[ $zipf_s =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk "BEGIN { exit !($zipf_s > 0 && $zipf_s != 1) }" \
  || { echo "bench/soak.sh: ZIPF_S must be a number > 0 other than 1 (got '$zipf_s')" >&2; exit 2; }

die() { echo "bench/soak.sh: FAILED: $*" >&2; exit 1; }
say() { printf '    %s\n' "$*"; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }

work=""; pids=(); wrk_pid=""; pg_dir=""; watchdog=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$watchdog" ]] && kill "$watchdog" 2>/dev/null || true
  [[ -n "$wrk_pid" ]] && kill -INT "$wrk_pid" 2>/dev/null || true
  if [[ $rc -ne 0 && -n "$work" ]]; then
    for log in "$work"/*.log; do [[ -s "$log" ]] && { echo "--- last lines of $(basename "$log")"; tail -n 15 "$log"; }; done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  [[ -n "$pg_dir" ]] && bash "$root/scripts/pg.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  if [[ -n "$work" && -n "${KEEP_LOGS:-}" ]]; then echo "(KEEP_LOGS: logs in $work)"; rm -rf "$work/pg"
  elif [[ -n "$work" ]]; then rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench/soak.sh: interrupted" >&2; exit 130' INT TERM
time_limit=$(( duration + measure + 900 ))
( trap 'kill "$nap" 2>/dev/null; exit 0' TERM; sleep "$time_limit" & nap=$!; wait "$nap"
  echo "bench/soak.sh: FAILED: over the time limit of $time_limit s" >&2; kill -TERM $$ ) 2>/dev/null &
watchdog=$!

echo "InvexQR soak $(date -u '+%F %T UTC'): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo "realistic mix over $codes codes (Zipf s = $zipf_s), idle grains collected after $collection_age s; maximum over $measure s, then $load_pct % of it for $duration s; a sample every $interval s; slopes after $warmup s"

# ---------------------------------------------------------------------------------------- tools and build
sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
for tool in curl ss; do command -v "$tool" >/dev/null || die "$tool is required"; done
if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  timeout 300 $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq wrk >/dev/null \
    || die "apt-get install wrk failed"
fi
timeout 120 bash scripts/pg.sh install >/dev/null || die "scripts/pg.sh install failed"
timeout 300 bash scripts/fetch-data.sh >/dev/null || die "scripts/fetch-data.sh failed"
timeout 900 dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly >/dev/null || die "dotnet build -c Release failed"
silo_dll="$root/src/Silo/bin/Release/net10.0/InvexQr.Silo.dll"
gateway_dll="$root/src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll"

# ---------------------------------------------------------------------------------------- PostgreSQL, silo, gateway
work=$(mktemp -d /tmp/invexqr-soak.XXXXXX); chmod 755 "$work"
pg_dir="$work/pg"
bash scripts/pg.sh init "$pg_dir" >/dev/null || die "initdb failed"
pg_port=$(bash scripts/pg.sh free-port $((20000 + RANDOM % 20000)))
bash scripts/pg.sh start "$pg_dir" "$pg_port" >/dev/null || die "PostgreSQL did not start"
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE soak" >/dev/null
sql() { timeout 120 psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d soak -v ON_ERROR_STOP=1 -qtAX "$@"; }
port() { bash scripts/pg.sh free-port $((20000 + RANDOM % 20000)); }
silo_url="http://127.0.0.1:$(port)"; gateway="http://127.0.0.1:$(port)"
api_key="soak-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
# Cluster TLS as deployments run it (docs/security.md): the silo's certificate, the client-only one for the gateway.
bash scripts/cluster-certs.sh "$work/tls" >/dev/null || die "scripts/cluster-certs.sh failed"
common_env=(
  "Orleans__Tls__CaPath=$work/tls/ca.crt" "Orleans__Tls__CertificatePath=$work/tls/silo.crt" "Orleans__Tls__KeyPath=$work/tls/silo.key"
  "ConnectionStrings__Postgres=Host=127.0.0.1;Port=$pg_port;Database=soak;Username=invexqr"
  "Orleans__ClusterId=soak-$$" "Orleans__ServiceId=soak" "Orleans__SiloPort=$(port)" "Orleans__GatewayPort=$(port)"
  "Orleans__SiloName=soak-silo" "Orleans__GrainCollectionAgeSeconds=$collection_age"
  "Auth__ApiKey=$api_key" "Gateway__PublicBaseUrl=$gateway" "Network__TrustedProxies__0=127.0.0.1"
  "ScanSink__SpoolDirectory=$work/spool" "ShutdownTimeoutSeconds=15"
  # 40,000 clients over a Zipf mix: the hottest codes see each client far more often than a real poster would.
  "Throttle__Burst=1000000000" "Throttle__PerMinute=1000000000"
)
start_process() { # NAME URL DLL [ENV...]
  local name=$1 url=$2 dll=$3; shift 3
  env "${common_env[@]}" "$@" ASPNETCORE_URLS="$url" dotnet "$dll" > "$work/$name.log" 2>&1 &
  pids+=($!); eval "${name}_pid=$!"
}
wait_ready() { # NAME URL PID
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$2/health/ready" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || die "the $1 exited during start-up"
    sleep 0.5
  done
  die "the $1 was not ready at $2 within 120 s"
}
start_process silo "$silo_url" "$silo_dll"; wait_ready silo "$silo_url" "$silo_pid"
start_process gateway "$gateway" "$gateway_dll" "Orleans__Tls__CertificatePath=$work/tls/gateway.crt" "Orleans__Tls__KeyPath=$work/tls/gateway.key"
wait_ready gateway "$gateway" "$gateway_pid"
postmaster=$(head -1 "$pg_dir/postmaster.pid")

# The bootstrap owner exists after its first authenticated request; the codes then go in with SQL.
curl -fsS -o /dev/null -H "Authorization: Bearer $api_key" "$gateway/api/codes" || die "GET /api/codes failed"
width=7
sql -c "INSERT INTO qr_codes (code, owner_id, target_url)
        SELECT 'z' || lpad(g::text, $width, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/z' || g
          FROM generate_series(0, $codes - 1) AS g; ANALYZE qr_codes" >/dev/null || die "inserting $codes codes failed"
say "PostgreSQL :$pg_port, silo $silo_url (pid $silo_pid), gateway $gateway (pid $gateway_pid), $codes codes"

# ---------------------------------------------------------------------------------------- wrk
declare -A B
wrk_run() { # SECONDS PAUSE_MS: the mix for SECONDS (scan.lua stops each thread cleanly), its BENCH line into B
  local seconds=$1 dir; dir=$(mktemp -d "$work/wrk.XXXXXX")
  BENCH_PAUSE_MS=$2 timeout -k 5 $((seconds + 40)) wrk -t"$threads" -c"$connections" -d"$((seconds + 20))s" --timeout 10s --latency \
    -s "$root/bench/lib/scan.lua" "$gateway" -- mix z "$codes" "$width" "$seconds" "$threads" "$dir" "$zipf_s" > "$dir/out" 2>&1 &
  wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    (( $(find "$dir" -name 'done.*' | wc -l) >= threads )) && { kill -INT "$wrk_pid" 2>/dev/null || true; break; }
    [[ -n "${on_tick:-}" ]] && $on_tick
    sleep 0.2
  done
  wait "$wrk_pid" || true; wrk_pid=""
  local line; line=$(grep '^BENCH ' "$dir/out" || true)
  [[ -n "$line" ]] || { cat "$dir/out"; die "wrk printed no results"; }
  B=(); local kv; for kv in ${line#BENCH }; do B[${kv%%=*}]=${kv#*=}; done
}

metric() { # TEXT NAME [LABEL]: the sum of a metric's samples in a /metrics page
  awk -v m="$2" -v l="${3:-}" '$0 !~ /^#/ && (index($0, m "{") == 1 || index($0, m " ") == 1) && index($0, l) { s += $NF } END { printf "%.0f\n", s }' <<<"$1"
}
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
tcp_of() { ss -Htnp state established 2>/dev/null | grep -c "pid=$1," || true; }

echo; echo "==> maximum: the mix flat out for $measure s"
rows_before=$(sql -c "SELECT count(*) FROM qr_scans")
wrk_run "$measure" 0
max_rps=${B[rps]}
say "$max_rps req/s, p99 $(calc %.1f "${B[p99_us]} / 1000") ms; 302: ${B[s302]}, other: $(( B[answered] - B[s302] ))"
target=$(calc %.1f "$max_rps * $load_pct / 100")
# Each connection waits after every answer; at this load an answer takes a few ms, which the pause leaves out.
pause_ms=$(calc %.2f "1000 * $connections / $target")
s302_total=${B[s302]}

echo; echo "==> soak: $load_pct % of it ($target req/s: $connections connections pausing $pause_ms ms) for $duration s"
header="   t_s  gw_rss_MiB gw_heap_MiB gw_fds gw_thr gw_tcp  silo_rss_MiB silo_heap_MiB silo_fds silo_thr silo_tcp  pg_backends spool_bytes activations  302/s"
echo "$header"
samples="$work/samples"; : > "$samples"
soak_started=$(now_s); next_sample=$interval; last_redirects=0; last_t=0
sample() {
  local t gm sm; t=$(calc %.0f "$(now_s) - $soak_started")
  gm=$(curl -fsS --max-time 10 "$gateway/metrics" 2>/dev/null || true)
  sm=$(curl -fsS --max-time 10 "$silo_url/metrics" 2>/dev/null || true)
  local redirects; redirects=$(metric "$gm" invexqr_scans_total 'outcome="redirect"')
  local row=(
    "$t"
    "$(calc %.1f "$(rss_kib "$gateway_pid") / 1024")" "$(calc %.1f "$(metric "$gm" dotnet_gc_last_collection_heap_size_bytes) / 1048576")"
    "$(fds "$gateway_pid")" "$(threads_of "$gateway_pid")" "$(tcp_of "$gateway_pid")"
    "$(calc %.1f "$(rss_kib "$silo_pid") / 1024")" "$(calc %.1f "$(metric "$sm" dotnet_gc_last_collection_heap_size_bytes) / 1048576")"
    "$(fds "$silo_pid")" "$(threads_of "$silo_pid")" "$(tcp_of "$silo_pid")"
    "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'soak'")"
    "$(metric "$sm" invexqr_scan_spool_bytes)" "$(metric "$sm" orleans_catalog_activations 'grain_type="qrcode"')"
    "$( (( t > last_t )) && calc %.0f "($redirects - $last_redirects) / ($t - $last_t)" || echo 0)"
  )
  last_redirects=$redirects; last_t=$t
  echo "${row[*]}" >> "$samples"
  printf '%6s %11s %11s %6s %6s %6s %13s %13s %8s %8s %8s %12s %11s %11s %6s\n' "${row[@]}"
}
sample_when_due() {
  if (( $(calc %.0f "$(now_s) - $soak_started") >= next_sample )); then sample; next_sample=$(( next_sample + interval )); fi
}
last_redirects=$(metric "$(curl -fsS "$gateway/metrics")" invexqr_scans_total 'outcome="redirect"')
sample
on_tick=sample_when_due
wrk_run "$duration" "$pause_ms"
on_tick=""
s302_total=$(( s302_total + B[s302] ))
say "soak: ${B[rps]} req/s ($(calc %.0f "100 * ${B[rps]} / $max_rps") % of the maximum), p50 $(calc %.1f "${B[p50_us]} / 1000") ms, p99 $(calc %.1f "${B[p99_us]} / 1000") ms; 302: ${B[s302]}, other: $(( B[answered] - B[s302] ))"

# ---------------------------------------------------------------------------------------- slopes and the count
echo; echo "==> slopes after $warmup s (least squares over the samples; per hour, and as % of the series' mean per hour)"
names=(t gw_rss_MiB gw_heap_MiB gw_fds gw_thr gw_tcp silo_rss_MiB silo_heap_MiB silo_fds silo_thr silo_tcp pg_backends spool_bytes activations redirects_per_s)
awk -v w="$warmup" -v names="${names[*]}" '
  BEGIN { n = split(names, name, " ") }
  $1 >= w { k++; for (i = 1; i <= n; i++) v[k, i] = $i }
  END {
    if (k < 2) { print "    fewer than 2 samples after the warm-up"; exit }
    for (i = 2; i <= n; i++) {
      sx = sy = sxx = sxy = 0
      for (j = 1; j <= k; j++) { x = v[j, 1] / 3600; y = v[j, i]; sx += x; sy += y; sxx += x * x; sxy += x * y }
      slope = (k * sxy - sx * sy) / (k * sxx - sx * sx); mean = sy / k
      printf "    %-16s mean %12.1f  slope %+12.2f /h  (%+.1f %% of the mean per hour)\n", name[i], mean, slope, mean != 0 ? 100 * slope / mean : 0
    }
    printf "    (%d samples from %d s to %d s)\n", k, v[1, 1], v[k, 1]
  }' "$samples"

# Every 302 a row: wait for the sink to settle (queue and spool empty), then compare.
for _ in $(seq 1 150); do
  sm=$(curl -fsS "$silo_url/metrics" 2>/dev/null || true)
  (( $(metric "$sm" invexqr_scan_sink_queue_depth) == 0 && $(metric "$sm" invexqr_scan_spool_scans) == 0 )) && break
  sleep 0.2
done
rows=$(( $(sql -c "SELECT count(*) FROM qr_scans") - rows_before ))
echo
if (( rows == s302_total )); then say "every 302 is a row: $s302_total 302s, $rows rows in qr_scans"
else die "$s302_total 302s but $rows rows in qr_scans"; fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
