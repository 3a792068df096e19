#!/usr/bin/env bash
# Scan-path benchmark of InvexQR (issue #8): one command, everything on loopback, bounded in time.
#
#   bench/run.sh            full run (DURATION s per measured run, 10,000 codes, 100,000 activated codes)
#   bench/run.sh --smoke    the whole harness in about 2 minutes (2 s runs, 1,000 codes, 10,000 activated)
#
# It installs wrk (Debian package), builds the solution in Release, fetches the data packages, starts a
# throwaway PostgreSQL, one silo, one gateway and a bare ASP.NET Core baseline server (bench/InvexQr.BaselineServer),
# creates codes through the API, and measures with wrk (scripts in bench/lib/):
#   baseline      GET /r/<one of 10,000> against the baseline server (measured before and after; the mean is
#                 the denominator of every ratio)
#   full path     the same URLs on the gateway: gateway → code grain → scan recorded
#   hot code      all traffic on one code
#   paced         the full path with each connection pausing after every answer, to about 40 % of the full
#                 path's req/s: the p99 under load without saturating the 2 cores
#   clients       the full path with each request from one of 40,000 public addresses (X-Forwarded-For; the
#                 gateways trust 127.0.0.1 as a proxy) and a dozen real user agents: geolocation, user-agent
#                 parsing, per-address throttling and unique-visitor sketches work as for a real audience
#   cold start    the first scan of codes that no silo has activated yet (inserted with SQL), each once
#   committed     the full path again with the silo restarted in ScanSink:Durability=Committed
#   co-hosted     full path and hot code with Gateway:CoHostSilo=true (one process is gateway and silo)
#   unknown       random codes that do not exist: default guard (Network:UnknownCodes, mostly 429 without a
#                 lookup) and, on a second gateway with the guard raised, random codes (every one a lookup)
#                 and a fixed set of 100 codes (negative caches), with PostgreSQL transactions per request
# and prints one table (req/s, p50, p99, ratio to the baseline, 302s, rows written, equal?), the scan sink's
# ingestion rate, the CPU split of gateway / silo / PostgreSQL during the full-path run and the silo's memory
# per active code. Every scan-path run compares the 302s wrk received with the rows added to qr_scans and the
# script fails (exit 1) when they differ. Output also goes to bench/results/<timestamp>.txt.
#
# Environment (optional): DURATION (s, default 20), WARMUP (s, default 3), CONNECTIONS (64), THREADS (2),
# CODES (10000), COLD_CODES (10000), ACTIVE_CODES (100000), ACTIVATION_BUDGET (s for the activation pass; 150,
# smoke 40), TIME_LIMIT (s, whole script; default 900, smoke 420), KEEP_LOGS (set: keep the processes' logs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
source "$root/bench/lib/proc.sh"

smoke=0
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
if [[ $smoke == 1 ]]; then
  duration=${DURATION:-2}; warmup=${WARMUP:-1}; codes=${CODES:-1000}; cold_codes=${COLD_CODES:-1000}
  active_codes=${ACTIVE_CODES:-10000}; time_limit=${TIME_LIMIT:-420}; stats_wait=2; idle_window=2
  cold_budget=30; activation_budget=${ACTIVATION_BUDGET:-40}
else
  duration=${DURATION:-20}; warmup=${WARMUP:-3}; codes=${CODES:-10000}; cold_codes=${COLD_CODES:-10000}
  active_codes=${ACTIVE_CODES:-100000}; time_limit=${TIME_LIMIT:-900}
  # PostgreSQL 15 backends publish their statistics at most once a second, and an idle one only after 10 s:
  # wait that long before reading pg_stat_database.
  stats_wait=11; idle_window=10
  cold_budget=90; activation_budget=${ACTIVATION_BUDGET:-150}
fi
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
for v in duration warmup codes cold_codes active_codes connections threads time_limit activation_budget; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench/run.sh: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done
(( codes <= 100000 && cold_codes <= 100000 && active_codes <= 1000000 )) \
  || { echo "bench/run.sh: at most 100000 CODES / COLD_CODES and 1000000 ACTIVE_CODES" >&2; exit 2; }
(( connections >= threads )) || { echo "bench/run.sh: CONNECTIONS must be at least THREADS" >&2; exit 2; }

mkdir -p "$root/bench/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
suffix=""; [[ $smoke == 1 ]] && suffix="-smoke"
results="$root/bench/results/$stamp$suffix.txt"
# Everything from here on goes to the terminal and to the results file.
exec > >(tee "$results") 2>&1

die() { echo "bench/run.sh: FAILED: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; } # calc FORMAT EXPRESSION

work=""
pids=()            # processes we started (silo, gateways, baseline); wrk runs are tracked in wrk_pid
wrk_pid=""
watchdog=""
pg_dir=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$watchdog" ]] && kill "$watchdog" 2>/dev/null || true
  [[ -n "$wrk_pid" ]] && kill -INT "$wrk_pid" 2>/dev/null || true
  [[ -n "${sampler:-}" ]] && kill "$sampler" 2>/dev/null || true
  if [[ $rc -ne 0 && -n "$work" ]]; then
    for log in "$work"/*.log; do
      [[ -s "$log" ]] || continue
      echo "--- last lines of $(basename "$log")"; tail -n 15 "$log"
    done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do # a silo with many active grains may take a while to deactivate them: 20 s, then KILL
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -n "$pg_dir" ]] && bash "$root/scripts/pg.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  if [[ -n "$work" && -n "${KEEP_LOGS:-}" ]]; then echo "(KEEP_LOGS: the processes' logs are in $work)"; rm -rf "$work/pg"
  elif [[ -n "$work" ]]; then rm -rf "$work"; fi
  echo "(stopped everything; results in ${results#"$root"/})"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench/run.sh: interrupted" >&2; exit 130' INT TERM

# Hard limit for the whole script: the watchdog ends it (and so the trap cleans up) if anything hangs.
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "$time_limit" & nap=$!
  wait "$nap"
  echo "bench/run.sh: FAILED: over the time limit of $time_limit s" >&2
  kill -TERM $$
) 2>/dev/null &
watchdog=$!

script_started=$(now_s)
echo "InvexQR scan benchmark $(date -u '+%F %T UTC')$([[ $smoke == 1 ]] && echo ' (SMOKE: numbers are not meaningful)')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "wrk -t$threads -c$connections, measured runs of ${duration} s after ${warmup} s of warm-up; $codes codes, $cold_codes cold codes, $active_codes activated codes"
echo "git: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -n $(git -C "$root" status --porcelain -- src 2>/dev/null) ]] && echo ' (src/ has uncommitted changes)')"

# ------------------------------------------------------------------------------------------- 1. tools and build
step "tools, build (Release), data packages"
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is required"
command -v curl >/dev/null || die "curl is required"
sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
if ! command -v wrk >/dev/null; then
  command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get: install wrk yourself"
  say "installing wrk (Debian package)"
  timeout 300 $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq wrk >/dev/null || die "apt-get install wrk failed"
fi
wrk --version 2>&1 | head -1 | sed 's/^/    /' || true
timeout 120 bash scripts/pg.sh install >/dev/null || die "scripts/pg.sh install failed"
command -v psql >/dev/null || die "psql (PostgreSQL client) is required"
build_log=$(mktemp)
if ! timeout 600 dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly >"$build_log" 2>&1; then
  tail -n 30 "$build_log"; rm -f "$build_log"
  die "dotnet build InvexQr.sln -c Release failed (src/ may be mid-edit: try again)"
fi
rm -f "$build_log"
silo_dll="$root/src/Silo/bin/Release/net10.0/InvexQr.Silo.dll"
gateway_dll="$root/src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll"
baseline_dll="$root/bench/InvexQr.BaselineServer/bin/Release/net10.0/InvexQr.BaselineServer.dll"
if [[ ! -f "$baseline_dll" ]]; then # not in the solution (yet): build the project itself
  timeout 300 dotnet build bench/InvexQr.BaselineServer/InvexQr.BaselineServer.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null \
    || die "building bench/InvexQr.BaselineServer failed"
fi
for dll in "$silo_dll" "$gateway_dll" "$baseline_dll"; do [[ -f "$dll" ]] || die "$dll is missing after the build"; done
timeout 300 bash scripts/fetch-data.sh >/dev/null || die "scripts/fetch-data.sh failed"
say "built; data packages in place"

# ------------------------------------------------------------------------------------------- 2. PostgreSQL, silo, gateway
step "PostgreSQL, silo, gateway, baseline (loopback)"
work=$(mktemp -d /tmp/invexqr-bench.XXXXXX)
chmod 755 "$work" # PostgreSQL runs as the unprivileged postgres user when we are root: it must reach its directory
head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$work/pg-password"
pg_dir="$work/pg"
bash scripts/pg.sh init "$pg_dir" "$work/pg-password" >/dev/null || die "initdb failed"
port_base=$((20000 + RANDOM % 20000))
pg_port=$(bash scripts/pg.sh free-port $((port_base + 100)))
bash scripts/pg.sh start "$pg_dir" "$pg_port" >/dev/null || die "PostgreSQL did not start"
postmaster=$(head -1 "$pg_dir/postmaster.pid")
export PGPASSWORD; PGPASSWORD=$(cat "$work/pg-password")
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE bench" >/dev/null
sql() { timeout 300 psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d bench -v ON_ERROR_STOP=1 -qtAX "$@"; }

silo_http=$(bash scripts/pg.sh free-port $((port_base + 200)))
silo_port=$(bash scripts/pg.sh free-port $((port_base + 300)))
silo_gateway_port=$(bash scripts/pg.sh free-port $((port_base + 400)))
gateway_http=$(bash scripts/pg.sh free-port $((port_base + 500)))
gateway2_http=$(bash scripts/pg.sh free-port $((port_base + 600)))
baseline_http=$(bash scripts/pg.sh free-port $((port_base + 700)))
silo_url="http://127.0.0.1:$silo_http"
gateway="http://127.0.0.1:$gateway_http"
gateway2="http://127.0.0.1:$gateway2_http"
baseline="http://127.0.0.1:$baseline_http"
api_key="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
common_env=(
  "ConnectionStrings__Postgres=Host=127.0.0.1;Port=$pg_port;Database=bench;Username=invexqr;Password=$PGPASSWORD"
  "Orleans__ClusterId=bench-$$" "Orleans__ServiceId=bench"
  "Orleans__SiloPort=$silo_port" "Orleans__GatewayPort=$silo_gateway_port" "Orleans__SiloName=bench-silo"
  "Auth__ApiKey=$api_key" "Gateway__PublicBaseUrl=$gateway"
  # One loopback client scans the same codes thousands of times: the per-address throttle would answer 429.
  "Throttle__Burst=1000000000" "Throttle__PerMinute=1000000000"
  # wrk stands in for a reverse proxy in the "varied clients" run: its X-Forwarded-For is believed.
  "Network__TrustedProxies__0=127.0.0.1"
  "ShutdownTimeoutSeconds=15"
)

start_process() { # NAME URL DLL [ENV...]: starts it in the background, appends its pid to pids, echoes nothing
  local name=$1 url=$2 dll=$3; shift 3
  env "${common_env[@]}" "$@" ASPNETCORE_URLS="$url" dotnet "$dll" > "$work/$name.log" 2>&1 &
  pids+=($!)
  eval "${name//-/_}_pid=$!"
}
wait_ready() { # NAME URL PID
  local name=$1 url=$2 pid=$3
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$url/health/ready" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "the $name exited during start-up (log above)"
    sleep 0.5
  done
  die "the $name did not become ready at $url/health/ready within 120 s"
}

start_process silo "$silo_url" "$silo_dll"
start_process baseline "$baseline" "$baseline_dll"
wait_ready silo "$silo_url" "$silo_pid"   # the silo applies the migrations first
start_process gateway "$gateway" "$gateway_dll"
wait_ready gateway "$gateway" "$gateway_pid"
wait_ready baseline "$baseline" "$baseline_pid"
say "PostgreSQL 127.0.0.1:$pg_port (pid $postmaster), silo $silo_url (pid $silo_pid), gateway $gateway (pid $gateway_pid), baseline $baseline (pid $baseline_pid)"

# ------------------------------------------------------------------------------------------- 3. codes
step "codes"
auth=(-H "Authorization: Bearer $api_key")
status=$(curl -sS -o "$work/hot.json" -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
  -X POST "$gateway/api/codes" -d '{"targetUrl":"https://example.org/hot","code":"hot"}') || die "POST /api/codes failed"
[[ $status == 201 ]] || { cat "$work/hot.json"; die "POST /api/codes answered $status (expected 201)"; }

# b00000 … : created through the API, several requests at a time on kept-alive connections (one curl).
width_b=5
awk -v n="$codes" -v url="$gateway/api/codes" -v key="$api_key" 'BEGIN {
  for (i = 0; i < n; i++) {
    code = sprintf("b%05d", i)
    printf "url = \"%s\"\nheader = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n", url, key
    printf "data = \"{\\\"targetUrl\\\":\\\"https://example.org/%s\\\",\\\"code\\\":\\\"%s\\\"}\"\n", code, code
    printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code}\\\\n\"\n"
    if (i < n - 1) print "next"
  }
}' > "$work/create.curl"
started=$(now_s)
timeout 300 curl -sS --parallel --parallel-max 8 -K "$work/create.curl" > "$work/create.out" 2>"$work/create.err" \
  || { head -5 "$work/create.err"; die "creating codes through the API failed"; }
created=$(grep -c '^201$' "$work/create.out" || true)
[[ $created == "$codes" ]] || { sort "$work/create.out" | uniq -c | head; die "created $created of $codes codes (answers above)"; }
say "$codes codes b00000… + 'hot' created through POST /api/codes in $(calc %.1f "$(now_s) - $started") s"

# Cold and activation sets: straight into qr_codes (no grain has ever seen them), owned by the bootstrap admin.
started=$(now_s)
sql <<SQL >/dev/null || die "inserting the cold and activation codes failed"
INSERT INTO qr_codes (code, owner_id, target_url)
SELECT 'c' || lpad(g::text, 5, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/c' || g
  FROM generate_series(0, $cold_codes - 1) AS g;
INSERT INTO qr_codes (code, owner_id, target_url)
SELECT 'm' || lpad(g::text, 7, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/m' || g
  FROM generate_series(0, $active_codes - 1) AS g;
ANALYZE qr_codes;
SQL
say "$cold_codes cold codes c00000… and $active_codes codes m0000000… inserted with SQL in $(calc %.1f "$(now_s) - $started") s"

# ------------------------------------------------------------------------------------------- wrk runs
declare -A B                   # the BENCH line of the last run
order=()                       # scenario names, in the order of the table
declare -A R_rps R_p50 R_p99 R_302 R_rows R_equal R_is_baseline
mismatches=0

scan_rows() { sql -c "SELECT count(*) FROM qr_scans"; }

# wrk_run MODE PREFIX COUNT WIDTH SECONDS URL: runs bench/lib/scan.lua, leaves its numbers in B.
# wrk's own -d is only a safety limit: the Lua script stops each thread cleanly (see scan.lua) and drops a
# marker file; when all threads have, wrk is ended with SIGINT. wrk_on_done (if set) runs at that moment.
wrk_on_done=""
wrk_run() {
  local mode=$1 prefix=$2 count=$3 width=$4 seconds=$5 url=$6
  local limit=$((seconds + 20))
  local dir; dir=$(mktemp -d "$work/wrk.XXXXXX")
  BENCH_PAUSE_MS=${pause_ms:-0} timeout -k 5 $((limit + 15)) wrk -t"$threads" -c"$connections" -d"${limit}s" --timeout 10s --latency \
    -s "$root/bench/lib/scan.lua" "$url" -- "$mode" "$prefix" "$count" "$width" "$seconds" "$threads" "$dir" \
    > "$dir/out" 2>&1 &
  wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    if (( $(find "$dir" -name 'done.*' | wc -l) >= threads )); then
      [[ -n "$wrk_on_done" ]] && $wrk_on_done
      kill -INT "$wrk_pid" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  wait "$wrk_pid" || true
  wrk_pid=""
  local line; line=$(grep '^BENCH ' "$dir/out" || true)
  [[ -n "$line" ]] || { cat "$dir/out"; die "wrk printed no results ($mode $prefix on $url)"; }
  B=()
  local kv
  for kv in ${line#BENCH }; do B[${kv%%=*}]=${kv#*=}; done
  [[ ${B[clean_stop]} == true ]] || say "WARNING: wrk did not stop cleanly (connection errors or a stuck request); counts may be off"
  if (( B[err_connect] + B[err_read] + B[err_write] + B[err_timeout] > 0 )); then
    say "wrk errors: connect ${B[err_connect]}, read ${B[err_read]}, write ${B[err_write]}, timeout ${B[err_timeout]}"
  fi
}

ms() { calc %.2f "$1 / 1000"; }
describe() { # one line about the run in B
  local statuses="302: ${B[s302]}"
  local s; for s in 200 404 410 429 503; do (( B[s$s] > 0 )) && statuses+=", $s: ${B[s$s]}"; done
  (( B[other] > 0 )) && statuses+=", other: ${B[other]}"
  say "$(calc %.0f "${B[rps]}") req/s, p50 $(ms "${B[p50_us]}") ms, p99 $(ms "${B[p99_us]}") ms, p99.9 $(ms "${B[p999_us]}") ms, max $(ms "${B[max_us]}") ms; ${B[answered]} answers ($statuses) in $(calc %.2f "${B[window_us]} / 1e6") s"
}

# wait_rows BEFORE EXPECTED_ADDED → prints the rows added: waits until at least EXPECTED_ADDED rows were added (then
# one more flush period, so that extra rows show up too) or until the count stops moving for 5 s; at most 120 s.
wait_rows() {
  local before=$1 expected=$2 count last=-1 still=0
  rm -f "$work/rows-reached"
  for _ in $(seq 1 600); do
    count=$(scan_rows)
    if (( count - before >= expected )); then now_s > "$work/rows-reached"; sleep 0.6; count=$(scan_rows); break; fi
    if (( count == last )); then still=$((still + 1)); (( still >= 25 )) && break; else still=0; fi
    last=$count
    sleep 0.2
  done
  echo $((count - before))
}

# record NAME [baseline]: stores B's numbers for the table (rows and equal are set by check_rows).
record() {
  order+=("$1")
  R_rps[$1]=${B[rps]}; R_p50[$1]=${B[p50_us]}; R_p99[$1]=${B[p99_us]}; R_302[$1]=${B[s302]}
  R_rows[$1]="-"; R_equal[$1]="-"; R_is_baseline[$1]=${2:-}
}

# check_rows NAME BEFORE: rows added since BEFORE must equal the 302s of NAME's run (which, after a clean stop,
# are exactly the scans the gateway acknowledged).
check_rows() {
  local name=$1 before=$2 added
  added=$(wait_rows "$before" "${B[s302]}")
  R_rows[$name]=$added
  if [[ $added == "${B[s302]}" ]]; then R_equal[$name]=yes; else R_equal[$name]=NO; mismatches=$((mismatches + 1)); fi
  say "rows added to qr_scans: $added, 302s received: ${B[s302]} → $([[ ${R_equal[$name]} == yes ]] && echo equal || echo 'NOT EQUAL')"
}

# scenario NAME URL MODE PREFIX COUNT WIDTH [baseline]: warm-up run, then the measured run; checks rows for scans.
scenario() {
  local name=$1 url=$2 mode=$3 prefix=$4 count=$5 width=$6 kind=${7:-}
  step "$name"
  local before
  if [[ $kind != baseline ]]; then before=$(scan_rows); fi
  wrk_run "$mode" "$prefix" "$count" "$width" "$warmup" "$url"
  say "warm-up: $(calc %.0f "${B[rps]}") req/s, ${B[s302]} × 302 of ${B[answered]}"
  if [[ $kind != baseline ]]; then
    local added; added=$(wait_rows "$before" "${B[s302]}")
    [[ $added == "${B[s302]}" ]] || { say "warm-up: rows added $added ≠ 302s ${B[s302]}"; mismatches=$((mismatches + 1)); }
    before=$(scan_rows)
  fi
  [[ -n "${scenario_before_measure:-}" ]] && $scenario_before_measure
  wrk_run "$mode" "$prefix" "$count" "$width" "$duration" "$url"
  describe
  record "$name" "$kind"
  [[ $kind != baseline ]] && check_rows "$name" "$before"
  return 0
}

# -------------------------------------------------------------------- baseline, full path (+ CPU, sink), hot code
hz=$(getconf CLK_TCK)
cores=$(nproc)
# CPU per answered request of a measured run: the processes in cpu_pids, PostgreSQL and wrk itself, over the
# requests wrk had answered. With every core busy, req/s is about the cores' time over this figure, so the
# baseline's figure over a scenario's is the ratio that scenario can reach on these cores at its present cost.
declare -A R_cpu_us
cpu_pids=()
run_cpu_before() { run_cpu0=$(( $(cpu_ticks "${cpu_pids[@]}") + $(postgres_ticks "$postmaster") )); }
run_cpu_after() {
  local wrk_process; wrk_process=$(pgrep -P "$wrk_pid" | head -1 || true) # wrk itself, started after run_cpu_before
  run_cpu1=$(( $(cpu_ticks "${cpu_pids[@]}") + $(postgres_ticks "$postmaster") + $(cpu_ticks ${wrk_process:-0}) ))
}
# scenario_with_cpu NAME PID... -- SCENARIO ARGS...: a scenario whose CPU per request is kept in R_cpu_us[NAME].
scenario_with_cpu() {
  local name=$1; shift
  cpu_pids=(); while [[ $1 != -- ]]; do cpu_pids+=("$1"); shift; done; shift
  scenario_before_measure=run_cpu_before wrk_on_done=run_cpu_after scenario "$name" "$@"
  R_cpu_us[$name]=$(calc %.1f "1e6 * ($run_cpu1 - $run_cpu0) / $hz / ${B[answered]}")
  say "CPU per answered request (its processes, PostgreSQL and wrk): ${R_cpu_us[$name]} µs"
}

scenario_with_cpu "baseline" "$baseline_pid" -- "$baseline" random b "$codes" $width_b baseline
# The gateway's own time per scan (invexqr.redirect.duration, from routing to the answer), cumulative per bucket.
duration_buckets() {
  curl -fsS "$gateway/metrics" | awk '/^invexqr_redirect_duration_seconds_bucket/ && /outcome="redirect"/ {
    match($0, /le="[^"]+"/); print substr($0, RSTART + 4, RLENGTH - 5), $NF }'
}
cpu_before() {
  duration_buckets > "$work/buckets0.txt"
  cpu0_t=$(now_s); cpu0_gw=$(cpu_ticks "$gateway_pid"); cpu0_silo=$(cpu_ticks "$silo_pid")
  cpu0_pg=$(postgres_ticks "$postmaster"); read -r cpu0_busy cpu0_total < <(machine_ticks)
  sink0=$(curl -fsS "$silo_url/metrics" | awk '/^invexqr_scan_sink_written(_total)?[ {]/ { s += $NF } END { printf "%d", s }')
}
cpu_after() {
  local wrk_process; wrk_process=$(pgrep -P "$wrk_pid" | head -1 || true) # wrk itself, under timeout
  cpu_wrk=$(cpu_ticks ${wrk_process:-0})   # wrk started after cpu_before: all of its CPU is in the window
  cpu1_t=$(now_s); cpu1_gw=$(cpu_ticks "$gateway_pid"); cpu1_silo=$(cpu_ticks "$silo_pid")
  cpu1_pg=$(postgres_ticks "$postmaster"); read -r cpu1_busy cpu1_total < <(machine_ticks)
  duration_buckets > "$work/buckets1.txt"
}
scenario_before_measure=cpu_before wrk_on_done=cpu_after \
  scenario "full path" "$gateway" random b "$codes" $width_b
full_rows_at=$(cat "$work/rows-reached" 2>/dev/null || now_s)   # when check_rows saw every row of the run
sink1=$(curl -fsS "$silo_url/metrics" | awk '/^invexqr_scan_sink_written(_total)?[ {]/ { s += $NF } END { printf "%d", s }')
full_window=$(calc %.3f "$cpu1_t - $cpu0_t")
full_ingest=$(calc %.0f "${R_rows[full path]} / ($full_rows_at - $cpu0_t)")
full_lag=$(calc %.2f "$full_rows_at - $cpu1_t")
pct() { calc %.0f "100 * $1 / ($hz * $full_window * $cores)"; }
cores_used() { calc %.2f "$1 / ($hz * $full_window)"; }
d_gw=$((cpu1_gw - cpu0_gw)); d_silo=$((cpu1_silo - cpu0_silo)); d_pg=$((cpu1_pg - cpu0_pg))
d_busy=$((cpu1_busy - cpu0_busy)); d_total=$((cpu1_total - cpu0_total))
d_other=$((d_busy - d_gw - d_silo - d_pg - cpu_wrk)); (( d_other < 0 )) && d_other=0
cpu_line="CPU during the full-path run ($full_window s × $cores cores): gateway $(pct $d_gw) % ($(cores_used $d_gw) cores), silo $(pct $d_silo) % ($(cores_used $d_silo)), PostgreSQL $(pct $d_pg) % ($(cores_used $d_pg)), wrk $(pct $cpu_wrk) % ($(cores_used $cpu_wrk)), everything else (other users of this machine) $(calc %.0f "100 * $d_other / $d_total") %, idle $(calc %.0f "100 * ($d_total - $d_busy) / $d_total") %"
say "$cpu_line"
R_cpu_us[full path]=$(calc %.1f "1e6 * ($d_gw + $d_silo + $d_pg + $cpu_wrk) / $hz / ${B[answered]}")
say "CPU per answered request: ${R_cpu_us[full path]} µs (gateway $(calc %.1f "1e6 * $d_gw / $hz / ${B[answered]}"), silo $(calc %.1f "1e6 * $d_silo / $hz / ${B[answered]}"), PostgreSQL $(calc %.1f "1e6 * $d_pg / $hz / ${B[answered]}"), wrk $(calc %.1f "1e6 * $cpu_wrk / $hz / ${B[answered]}"))"
# wrk's latency includes queueing outside the handler (Kestrel, thread pool, kernel, wrk itself) on the shared cores.
server_line="gateway's own time per scan in the full-path run (invexqr.redirect.duration, routing to answer): $(paste -d " " "$work/buckets0.txt" "$work/buckets1.txt" \
  | awk '{ le[NR] = $1; d[NR] = $4 - $2 } END { for (i = 1; i <= NR; i++) if (le[i] == "0.005" || le[i] == "0.01" || le[i] == "0.025") printf "%s%.2f %% ≤ %g ms", (n++ ? ", " : ""), 100 * d[i] / d[NR], le[i] * 1000
    for (i = 1; i <= NR; i++) if (d[i] >= 0.99 * d[NR]) { printf "; p99 ≤ %g ms (histogram bucket)", le[i] * 1000; break } }')"
server_p99=$(sed -nE 's/.*p99 ≤ ([0-9.]+) ms \(histogram bucket\).*/≤ \1/p' <<<"$server_line")
say "$server_line"
sink_line="scan sink ingestion: ${R_rows[full path]} rows in $(calc %.2f "$full_rows_at - $cpu0_t") s = $full_ingest rows/s (all rows in $full_lag s after the last answer; silo counter invexqr_scan_sink_written: +$((sink1 - sink0)))"
say "$sink_line"

scenario "hot code" "$gateway" one hot 1 0
# The same 64 connections, each pausing after an answer so that the offered load is about 40 % of what the full
# path just served: the p99 of a loaded but not saturated gateway, next to the saturated one's.
pause_ms=$(calc %.0f "1000 * $connections / (0.4 * ${R_rps[full path]}) - 1"); (( pause_ms >= 1 )) || pause_ms=1
paced_name="full path, paced ($pause_ms ms pauses)"
pause_ms=$pause_ms scenario "$paced_name" "$gateway" random b "$codes" $width_b
pause_ms=0
scenario "full path, varied clients" "$gateway" clients b "$codes" $width_b
scenario_with_cpu "baseline (again)" "$baseline_pid" -- "$baseline" random b "$codes" $width_b baseline

# -------------------------------------------------------------------- cold start
step "cold start: first scan of $cold_codes codes no silo has activated (each once; gateway A, default guard)"
before=$(scan_rows)
wrk_run walk c "$cold_codes" 5 "$cold_budget" "$gateway"
(( B[answered] == cold_codes )) || say "WARNING: only ${B[answered]} of $cold_codes cold codes scanned within $cold_budget s"
describe
record "cold start (first pass)"
check_rows "cold start (first pass)" "$before"

# -------------------------------------------------------------------- unknown codes
step "unknown codes (PostgreSQL transactions counted in pg_stat_database, ${stats_wait} s settling before each sample)"
start_process gateway2 "$gateway2" "$gateway_dll" \
  Network__UnknownCodes__Burst=100000000 Network__UnknownCodes__PerMinute=100000000
wait_ready "second gateway" "$gateway2" "$gateway2_pid"
say "second gateway with the unknown-code guard raised: $gateway2 (pid $gateway2_pid)"
db_sample() { # → "epoch_s xact_commit+xact_rollback tup_fetched"
  sleep "$stats_wait"
  echo "$(now_s) $(sql -c "SELECT xact_commit + xact_rollback, tup_fetched FROM pg_stat_database WHERE datname = 'bench'" | tr '|' ' ')"
}
declare -A U_tx U_fetched U_window U_requests U_404 U_429
unknown_run() { # NAME URL PREFIX COUNT WIDTH
  local name=$1 url=$2 prefix=$3 count=$4 width=$5 s0 s1 before warm_answers warm_404 warm_429
  read -r -a s0 < <(db_sample)
  before=$(scan_rows)
  step "$name"
  wrk_run random "$prefix" "$count" "$width" "$warmup" "$url"
  warm_answers=${B[answered]} warm_404=${B[s404]} warm_429=${B[s429]}
  say "warm-up: $(calc %.0f "${B[rps]}") req/s, ${B[answered]} answers (404: ${B[s404]}, 429: ${B[s429]})"
  wrk_run random "$prefix" "$count" "$width" "$duration" "$url"
  describe
  record "$name"
  check_rows "$name" "$before"
  read -r -a s1 < <(db_sample)
  U_tx[$name]=$((s1[1] - s0[1])); U_fetched[$name]=$((s1[2] - s0[2]))
  U_window[$name]=$(calc %.3f "${s1[0]} - ${s0[0]}"); U_requests[$name]=$((warm_answers + B[answered]))
  U_404[$name]=$((warm_404 + B[s404])); U_429[$name]=$((warm_429 + B[s429]))
}
unknown_run "unknown, default guard" "$gateway" u 1000000000 9
unknown_run "unknown, guard raised" "$gateway2" u 1000000000 9
unknown_run "unknown, 100 fixed, raised" "$gateway2" z 100 3
# Background transactions (Orleans membership, rollup and salt upkeep, …) of an idle deployment, same sampling.
read -r -a idle0 < <(db_sample)
sleep "$idle_window"
read -r -a idle1 < <(db_sample)
idle_rate=$(calc %.4f "(${idle1[1]} - ${idle0[1]}) / (${idle1[0]} - ${idle0[0]})")
say "idle background: $(calc %.2f "$idle_rate") transactions/s"

# -------------------------------------------------------------------- memory per active code
step "memory: activate $active_codes codes (first scan of each, through the second gateway, at most $activation_budget s) and read the silo's RSS"
silo_metric() { # REGEX → the sum of the silo's Prometheus samples whose line matches (0 when none)
  curl -fsS "$silo_url/metrics" | awk -v re="$1" '$0 ~ re && !/^#/ { s += $NF } END { printf "%.0f", s }'
}
heap_re='^(process_runtime_)?dotnet_gc_(last_collection_)?heap_size_bytes'
act_re='^orleans_catalog_activation_created_total[ {]'
rss0=$(rss_kib "$silo_pid"); heap0=$(silo_metric "$heap_re"); act0=$(silo_metric "$act_re")
before=$(scan_rows)
# Activations over time (the silo's Orleans counter every 10 s), to see whether the rate holds as codes pile up.
( t=0; while sleep 10; do t=$((t + 10)); echo "$t $(silo_metric "$act_re")"; done ) > "$work/activations.txt" 2>/dev/null &
sampler=$!
wrk_run walk m "$active_codes" 7 "$activation_budget" "$gateway2"
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
describe
activated=${B[s302]}
activation_name="activation pass ($activated of $active_codes)"
record "$activation_name"
check_rows "$activation_name" "$before"
progress=$(awk -v a0="$act0" '{ printf "%s%d s: %d", (NR > 1 ? ", " : ""), $1, $2 - a0 }' "$work/activations.txt")
[[ -n "$progress" ]] && say "activations created since the pass began: $progress"
(( activated == active_codes )) || say "WARNING: only $activated of $active_codes codes activated within $activation_budget s"
(( activated > 0 )) || die "the activation pass activated nothing"
sleep 3
rss1=$(rss_kib "$silo_pid"); heap1=$(silo_metric "$heap_re"); act1=$(silo_metric "$act_re")
idle_t0=$(now_s); idle_silo0=$(cpu_ticks "$silo_pid"); sleep 5
idle_silo=$(calc %.0f "100 * ($(cpu_ticks "$silo_pid") - $idle_silo0) / ($hz * ($(now_s) - $idle_t0))")
mem_line="silo RSS $((rss0 / 1024)) MiB before, $((rss1 / 1024)) MiB after activating $activated codes: $(calc %.0f "($rss1 - $rss0) * 1024 / $activated") bytes per active code (RSS: includes GC headroom)"
say "$mem_line"
if (( heap1 > 0 )); then
  mem_line+="; GC heap after the last collection $((heap0 / 1048576)) → $((heap1 / 1048576)) MiB = $(calc %.0f "($heap1 - $heap0) / $activated") bytes per code"
fi
(( act1 > 0 )) && mem_line+="; Orleans activations created meanwhile: $((act1 - act0))"
idle_line="silo CPU while idle with those codes active: $idle_silo % of one core"
say "$idle_line"

# -------------------------------------------------------------------- full path, Committed durability
# The same full-path run with the silo restarted in ScanSink:Durability=Committed (the 302 waits for the scan's
# group commit), to choose the default from the two figures of one run.
step "full path, Committed durability (silo restarted with ScanSink__Durability=Committed)"
kill -TERM "$silo_pid" 2>/dev/null || true
wait "$silo_pid" 2>/dev/null || true
start_process silo "$silo_url" "$silo_dll" ScanSink__Durability=Committed
wait_ready silo "$silo_url" "$silo_pid"
scenario "full path (Committed)" "$gateway" random b "$codes" $width_b

# -------------------------------------------------------------------- co-hosted: the gateway is the silo
# Gateway:CoHostSilo=true on the same gateway port, with the separate silo stopped: one process does both, and
# a scan is a call to a grain in the same process (no serialization, no loopback hop between processes).
step "co-hosted: gateway and silo in one process (Gateway__CoHostSilo=true; the separate silo stopped)"
kill -TERM "$silo_pid" "$gateway_pid" 2>/dev/null || true
wait "$silo_pid" "$gateway_pid" 2>/dev/null || true
start_process gateway "$gateway" "$gateway_dll" Gateway__CoHostSilo=true
wait_ready "co-hosted gateway" "$gateway" "$gateway_pid"
# Its grains start cold: activate the many codes first, as the separate silo's had been before its full-path run.
before=$(scan_rows)
wrk_run walk b "$codes" $width_b "$cold_budget" "$gateway"
say "activated ${B[s302]} of $codes codes in the co-hosted silo (each scanned once); rows: $(wait_rows "$before" "${B[s302]}")"
scenario_with_cpu "full path (co-hosted)" "$gateway_pid" -- "$gateway" random b "$codes" $width_b
scenario "hot code (co-hosted)" "$gateway" one hot 1 0

# ------------------------------------------------------------------------------------------- the table
baseline_rps=$(calc %.1f "(${R_rps[baseline]} + ${R_rps[baseline (again)]}) / 2")
step "results$([[ $smoke == 1 ]] && echo ' (SMOKE run: tiny durations, the numbers mean nothing)')"
echo
printf '| %-34s | %9s | %8s | %8s | %9s | %9s | %9s | %-6s |\n' scenario "req/s" "p50 ms" "p99 ms" "ratio" "302s" "rows" "equal?"
printf '| %-34s | %9s | %8s | %8s | %9s | %9s | %9s | %-6s |\n' "---" "---:" "---:" "---:" "---:" "---:" "---:" "---"
for name in "${order[@]}"; do
  if [[ ${R_is_baseline[$name]} == baseline ]]; then ratio="(base)"; else ratio="$(calc %.1f "100 * ${R_rps[$name]} / $baseline_rps") %"; fi
  printf '| %-34s | %9.0f | %8s | %8s | %9s | %9s | %9s | %-6s |\n' "$name" "${R_rps[$name]}" "$(ms "${R_p50[$name]}")" \
    "$(ms "${R_p99[$name]}")" "$ratio" "${R_302[$name]}" "${R_rows[$name]}" "${R_equal[$name]}"
done
echo
echo "baseline: mean of the two baseline runs = $(calc %.0f "$baseline_rps") req/s"
echo "$cpu_line"
base_cpu=$(calc %.1f "(${R_cpu_us[baseline]} + ${R_cpu_us[baseline (again)]}) / 2")
echo "CPU per answered request (the processes under test, PostgreSQL and wrk): baseline $base_cpu µs (mean of its two runs), full path ${R_cpu_us[full path]} µs, co-hosted full path ${R_cpu_us[full path (co-hosted)]} µs"
echo "  CPU-budget ratio (the baseline's µs over the scenario's: the req/s ratio it can reach with every core busy): full path $(calc %.0f "100 * $base_cpu / ${R_cpu_us[full path]}") %, co-hosted $(calc %.0f "100 * $base_cpu / ${R_cpu_us[full path (co-hosted)]}") %"
echo "$server_line"
echo "$sink_line"
echo "$mem_line"
echo "$idle_line"
echo
echo "PostgreSQL transactions per unknown-code request (pg_stat_database xact_commit + xact_rollback, net of the idle"
echo "background of $(calc %.2f "$idle_rate")/s). Npgsql resets a pooled connection with DISCARD ALL, sent as its own transaction"
echo "before the next command: one lookup (SELECT EXISTS) = 2 transactions."
printf '| %-28s | %9s | %9s | %9s | %12s | %12s |\n' "run (warm-up + measured)" requests "404s" "429s" "transactions" "per request"
printf '| %-28s | %9s | %9s | %9s | %12s | %12s |\n' "---" "---:" "---:" "---:" "---:" "---:"
for name in "unknown, default guard" "unknown, guard raised" "unknown, 100 fixed, raised"; do
  net=$(calc %.0f "${U_tx[$name]} - $idle_rate * ${U_window[$name]}"); (( net < 0 )) && net=0
  printf '| %-28s | %9d | %9d | %9d | %12s | %12s |\n' "$name" "${U_requests[$name]}" "${U_404[$name]}" "${U_429[$name]}" \
    "$net" "$(calc %.4f "$net / ${U_requests[$name]}")"
  [[ $name == "unknown, 100 fixed, raised" ]] && fixed_per_request=$(calc %.4f "$net / ${U_requests[$name]}") && fixed_net=$net
done
echo
full_ratio=$(calc %.0f "100 * ${R_rps[full path]} / $baseline_rps")
hot_vs_full=$(calc %.0f "100 * ${R_rps[hot code]} / ${R_rps[full path]}")
full_p99=$(ms "${R_p99[full path]}")
met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "NOT met"; fi; }
echo "targets (issue #8):"
echo "  full path ≥ 50 % of the baseline's req/s:      $full_ratio % → $(met "$full_ratio >= 50")"
echo "  hot code ≥ 80 % of the full-path (many codes):  $hot_vs_full % → $(met "$hot_vs_full >= 80")"
echo "  full-path p99 ≤ 10 ms at $connections connections:       $full_p99 ms → $(met "$full_p99 <= 10")"
echo "    (paced to $(calc %.0f "100 * ${R_rps[$paced_name]} / ${R_rps[full path]}") % of that load, same connections: p99 $(ms "${R_p99[$paced_name]}") ms; the gateway's own p99 at full load: ${server_p99:-?} ms)"
echo "  unknown-code flood: no database read per request after the first (fixed set of 100 codes, negative caches):"
echo "                                                  $fixed_per_request transactions/request ($fixed_net for 100 codes) → $(met "$fixed_per_request < 0.01")"
echo "(p50/p99 are wrk's, measured on the same $cores cores the servers use: wrk itself competes for the CPU.)"
echo "co-hosted (Gateway:CoHostSilo): full path $(calc %.0f "${R_rps[full path (co-hosted)]}") req/s = $(calc %.0f "100 * ${R_rps[full path (co-hosted)]} / $baseline_rps") % of the baseline, p99 $(ms "${R_p99[full path (co-hosted)]}") ms; hot code $(calc %.0f "${R_rps[hot code (co-hosted)]}") req/s"
# Logging is part of the cost: the shipped defaults should write next to nothing per request.
log_lines=""
for log in "$work"/*.log; do [[ -f "$log" ]] && log_lines+="$(basename "$log" .log) $(wc -l < "$log"), "; done
echo "log lines written during the whole run (shipped logging defaults): ${log_lines%, }"
for log in "$work"/*.log; do # who writes them, where there are many
  [[ -f "$log" ]] && (( $(wc -l < "$log") > 1000 )) || continue
  echo "  $(basename "$log" .log), most frequent: $(grep -hoE '^(info|warn|fail|crit|dbug|trce): [A-Za-z0-9_.]+' "$log" | sort | uniq -c | sort -rn | head -3 | awk '{printf "%s%s × %s", (NR>1?"; ":""), $3, $1}')"
done
echo "durability: Committed full path $(calc %.0f "${R_rps[full path (Committed)]}") req/s, p99 $(ms "${R_p99[full path (Committed)]}") ms = $(calc %.0f "100 * ${R_rps[full path (Committed)]} / ${R_rps[full path]}") % of Buffered's"
echo
echo "full-path ratio: $full_ratio %"
echo "total time: $(calc %.0f "$(now_s) - $script_started") s"
(( mismatches == 0 )) || die "$mismatches run(s) where the rows written to qr_scans differ from the 302s received (see above)"
