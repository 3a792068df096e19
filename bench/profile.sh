#!/usr/bin/env bash
# CPU profile of the full-path scan run: where the two cores go, per process and per method.
#
#   bench/profile.sh              separate silo and gateway
#   COHOST=1 bench/profile.sh     the gateway co-hosts the silo (Gateway__CoHostSilo=true)
#   MODE=clients bench/profile.sh varied addresses and user agents (bench/lib/scan.lua), instead of one client
#   ALLOC=1 bench/profile.sh      which types the gateway and the silo allocate (dotnet-trace, installed if
#                                 missing; bench/InvexQr.AllocationTypes), instead of CPU samples
#   WEBHOOK=1 bench/profile.sh    every code's scans also go to a webhook endpoint (bench/lib/webhook-receiver.py on
#                                 loopback, checking signatures); WEBHOOK=queue: the events are queued but the silo
#                                 delivers none (Webhooks:Workers=0), the write side's cost alone
#
# Starts a throwaway PostgreSQL, a silo and a gateway on loopback (as bench/run.sh does), inserts CODES codes
# (default 10,000) with SQL, scans each once, then runs wrk on random codes (bench/lib/scan.lua) for DURATION s
# (default 25) and samples every CPU with `perf record -a -g` (499 Hz) during the middle PROFILE s (default 15).
# .NET processes run with DOTNET_PerfMapEnabled=1 so that JIT-compiled methods have names. It prints wrk's
# figures, the gateway's handler durations beside ASP.NET Core's request durations of the same route, the rollup
# flushes, CPU µs per scan of the gateway, the silo and PostgreSQL, each process's collections and bytes allocated
# per scan, the share of samples per process, and the top methods (self time) of the gateway, the silo and
# PostgreSQL. STATEMENTS=1 also lists PostgreSQL's statements of the measured run by execution time per scan
# (pg_stat_statements, loaded into the throwaway server). PROFILE=0 measures without perf (to compare settings: the processes inherit the environment,
# e.g. DOTNET_gcServer=0 bench/profile.sh; SILO_ENV=... or GATEWAY_ENV=... sets something for one process only). Needs perf (Debian package linux-perf) and root or perf_event_paranoid ≤ 1. The perf data and
# logs stay in the printed directory with KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mode=${MODE:-random}; codes=${CODES:-10000}; duration=${DURATION:-25}; profile=${PROFILE:-15}; cohost=${COHOST:-0}; top=${TOP:-25}
for v in codes duration profile top; do
  [[ ${!v} =~ ^[0-9]+$ && ( ${!v} -gt 0 || $v == profile ) ]] || { echo "bench/profile.sh: $v must be a positive integer" >&2; exit 2; }
done
[[ $mode == random || $mode == clients ]] || { echo "bench/profile.sh: MODE is random or clients" >&2; exit 2; }
(( profile + 4 <= duration )) || { echo "bench/profile.sh: PROFILE must be at least 4 s shorter than DURATION" >&2; exit 2; }
command -v perf >/dev/null || { echo "bench/profile.sh: perf is missing (apt-get install -y linux-perf)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/profile.sh: wrk is missing (bench/run.sh installs it)" >&2; exit 2; }
webhook=${WEBHOOK:-0}; [[ $webhook == 0 || $webhook == 1 || $webhook == queue ]] || { echo "bench/profile.sh: WEBHOOK is 0, 1 or queue" >&2; exit 2; }
alloc=${ALLOC:-0}; [[ $alloc == 0 || $alloc == 1 ]] || { echo "bench/profile.sh: ALLOC is 0 or 1" >&2; exit 2; }
[[ $alloc == 0 ]] || (( profile > 0 && profile < 60 )) || { echo "bench/profile.sh: with ALLOC=1, PROFILE is 1-59 s" >&2; exit 2; }
if [[ $alloc == 1 ]]; then
  dotnet_trace=$(command -v dotnet-trace || echo "$HOME/.dotnet/tools/dotnet-trace")
  if [[ ! -x $dotnet_trace ]]; then
    dotnet tool install -g dotnet-trace >/dev/null || { echo "bench/profile.sh: installing dotnet-trace failed" >&2; exit 2; }
  fi
fi

work=$(mktemp -d /tmp/invexqr-profile.XXXXXX); chmod 755 "$work"
pids=(); pg_dir="$work/pg"
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do timeout 20 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
  bash "$root/scripts/pg.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then rm -rf "$pg_dir"; echo "(KEEP: perf data and logs in $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
die() { echo "bench/profile.sh: FAILED: $*" >&2; exit 1; }

timeout 600 dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly >/dev/null || die "the Release build failed"
if [[ $alloc == 1 ]]; then
  timeout 600 dotnet build bench/InvexQr.AllocationTypes -c Release -nologo -clp:ErrorsOnly >/dev/null || die "building bench/InvexQr.AllocationTypes failed"
fi
timeout 300 bash scripts/fetch-data.sh >/dev/null || die "scripts/fetch-data.sh failed"
head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$work/pg-password"
bash scripts/pg.sh init "$pg_dir" "$work/pg-password" >/dev/null || die "initdb failed"
base=$((20000 + RANDOM % 20000))
pg_port=$(bash scripts/pg.sh free-port $((base + 100)))
statements=${STATEMENTS:-0}
[[ $statements == 1 ]] && export PG_EXTRA_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
bash scripts/pg.sh start "$pg_dir" "$pg_port" >/dev/null || die "PostgreSQL did not start"
export PGPASSWORD; PGPASSWORD=$(cat "$work/pg-password")
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE profile" >/dev/null
[[ $statements == 1 ]] && psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d profile -qc "CREATE EXTENSION pg_stat_statements" >/dev/null
silo_http=$(bash scripts/pg.sh free-port $((base + 200))); gateway_http=$(bash scripts/pg.sh free-port $((base + 500)))
# Cluster TLS as deployments run it: the silo's certificate, the client-only one for a separate gateway.
bash scripts/cluster-certs.sh "$work/tls" >/dev/null || die "scripts/cluster-certs.sh failed"
env_common=(
  "Orleans__Tls__CaPath=$work/tls/ca.crt" "Orleans__Tls__CertificatePath=$work/tls/silo.crt" "Orleans__Tls__KeyPath=$work/tls/silo.key"
  "ConnectionStrings__Postgres=Host=127.0.0.1;Port=$pg_port;Database=profile;Username=invexqr;Password=$PGPASSWORD"
  "Orleans__ClusterId=profile-$$" "Orleans__ServiceId=profile" "Orleans__SiloName=profile-silo"
  "Orleans__SiloPort=$(bash scripts/pg.sh free-port $((base + 300)))"
  "Orleans__GatewayPort=$(bash scripts/pg.sh free-port $((base + 400)))"
  "Auth__ApiKey=profile-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" "Throttle__Burst=1000000000" "Throttle__PerMinute=1000000000"
  # Method names for perf: the JIT writes /tmp/perf-PID.map, and W^X is off because its double mapping hides
  # JIT-compiled code from perf (it shows as memfd:doublemapper).
  DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
)
if [[ $webhook != 0 ]]; then
  receiver_port=$(bash scripts/pg.sh free-port $((base + 600)))
  python3 bench/lib/webhook-receiver.py "$receiver_port" --seconds 900 --secret-file "$work/webhook-secret" > "$work/receiver.log" 2>&1 &
  pids+=($!)
  env_common+=("Webhooks__AllowPrivateAddresses=true")
  [[ $webhook == queue ]] && env_common+=("Webhooks__Workers=0")
fi
# wrk's X-Forwarded-For is believed in MODE=clients (only then: a trusted proxy is work on every request).
[[ $mode == clients ]] && env_common+=("Network__TrustedProxies__0=127.0.0.1")
start() { # NAME PORT DLL [ENV...]
  local name=$1 port=$2 dll=$3; shift 3
  env "${env_common[@]}" "$@" ASPNETCORE_URLS="http://127.0.0.1:$port" dotnet "$dll" > "$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready" 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -20 "$work/$name.log"; die "the $name exited during start-up"; }
    sleep 0.5
  done
  die "the $name did not become ready"
}
if [[ $cohost == 1 ]]; then
  start gateway "$gateway_http" src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll Gateway__CoHostSilo=true
  silo_pid=${pids[-1]}; gateway_pid=${pids[-1]}
else
  # SILO_ENV / GATEWAY_ENV: settings for one process only (e.g. SILO_ENV=DOTNET_gcServer=0), space-separated.
  # shellcheck disable=SC2086
  start silo "$silo_http" src/Silo/bin/Release/net10.0/InvexQr.Silo.dll ${SILO_ENV:-}
  # shellcheck disable=SC2086
  start gateway "$gateway_http" src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll \
    "Orleans__Tls__CertificatePath=$work/tls/gateway.crt" "Orleans__Tls__KeyPath=$work/tls/gateway.key" ${GATEWAY_ENV:-}
  silo_pid=${pids[-2]}; gateway_pid=${pids[-1]}
fi
if [[ $webhook != 0 ]]; then # every event of every code (all of them the admin's)
  admin_key=$(printf '%s\n' "${env_common[@]}" | sed -n 's/^Auth__ApiKey=//p')
  curl -fsS -H "Authorization: Bearer $admin_key" -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$gateway_http/api/webhooks" \
    -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"events\":[\"scan\",\"code.created\",\"code.updated\",\"code.deleted\",\"code.gone\"]}" \
    -o "$work/webhook.json" || die "POST /api/webhooks failed"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/webhook.json" > "$work/webhook-secret"
fi
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d profile -qtAX -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "inserting codes failed"
INSERT INTO qr_codes (code, owner_id, target_url)
SELECT 'b' || lpad(g::text, 5, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/b' || g
  FROM generate_series(0, $codes - 1) AS g;
ANALYZE qr_codes;
SQL
url="http://127.0.0.1:$gateway_http"
run_wrk() { # MODE SECONDS
  local dir; dir=$(mktemp -d "$work/wrk.XXXXXX")
  BENCH_PAUSE_MS=${PACE_MS:-0} timeout -k 5 $(($2 + 40)) wrk -t2 -c64 -d$(($2 + 20))s --timeout 10s --latency -s bench/lib/scan.lua "$url" \
    -- "$1" b "$codes" 5 "$2" 2 "$dir" > "$dir/out" 2>&1 &
  local wrk=$!
  while kill -0 "$wrk" 2>/dev/null; do (( $(find "$dir" -name 'done.*' | wc -l) >= 2 )) && kill -INT "$wrk"; sleep 0.1; done
  wait "$wrk" || true
  grep '^BENCH ' "$dir/out" | tr ' ' '\n' | grep -E '^(rps|p50_us|p99_us|s302|other|s503)=' | tr '\n' ' '; echo
}
echo "activating $codes codes: $(run_wrk walk 120)"
echo "warm-up: $(run_wrk "$mode" 5)"
# GC during the measured run, per process, from the runtime metrics at /metrics (count by generation, pause time).
gc_sample() { # PORT → "gen0 gen1 gen2 pause_seconds allocated_bytes"
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | awk '
    /^#/ { next }
    /gc_collections/ && /generation="gen0"/ { g0 += $NF } /gc_collections/ && /generation="gen1"/ { g1 += $NF }
    /gc_collections/ && /generation="gen2"/ { g2 += $NF }
    /gc_(pause_time|duration)/ && !/bucket|_count|_sum/ { p += $NF; unit = ($1 ~ /nanoseconds/) ? 1e9 : 1 }
    /gc_(heap_total_allocated|allocations_size)/ { a += $NF }
    END { printf "%d %d %d %.3f %.0f\n", g0, g1, g2, p / (unit ? unit : 1), a }'
}
gc_ports=("$gateway_http"); [[ $cohost == 1 ]] || gc_ports+=("$silo_http")
declare -A gc0; for port in "${gc_ports[@]}"; do gc0[$port]=$(gc_sample "$port"); done
# The gateway's own view of each scan's duration (invexqr.redirect.duration), to tell server time from queueing.
# ASP.NET Core's http.server.request.duration of the same requests starts earlier (headers parsed) and ends later
# (answer written): what it adds is time in the gateway process outside the handler; what wrk adds beyond it is
# the kernel, the accept queue and wrk itself.
duration_buckets() { # METRIC FILTER → "le count" lines, summed over the other labels
  { curl -fsS "http://127.0.0.1:$gateway_http/metrics" 2>/dev/null | grep -E "^$1_bucket" | grep -F "$2" || true; } \
    | sed -E 's/.*le="([^"]+)".* ([0-9.e+]+)$/\1 \2/' | awk '{ if (!($1 in n)) order[++k] = $1; n[$1] += $2 } END { for (i = 1; i <= k; i++) print order[i], n[order[i]] }'
}
all_buckets() {
  duration_buckets invexqr_redirect_duration_seconds 'outcome="redirect"' > "$1.handler"
  duration_buckets http_server_request_duration_seconds 'http_route="/r/{code}"' > "$1.hosting"
}
# CPU time (user + system, clock ticks) of the gateway, the silo and PostgreSQL, for CPU per scan. PostgreSQL is
# every process named postgres on the machine: run this alone.
cpu_ticks() { # PID... → ticks
  local t=0 pid f
  for pid in "$@"; do f=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) && t=$((t + ${f% *} + ${f#* })); done
  echo "$t"
}
# The rollup sink's flushes (invexqr.rollup_sink.flush): how many, and how long one write took.
rollup_sample() {
  { curl -fsS "http://127.0.0.1:$([[ $cohost == 1 ]] && echo "$gateway_http" || echo "$silo_http")/metrics" 2>/dev/null \
    || true; } | awk '/^invexqr_rollup_sink_flush_seconds_(sum|count)/ { v[$1 ~ /_sum/ ? "s" : "c"] += $NF } END { printf "%d %.6f\n", v["c"], v["s"] }'
}
cpu_sample() { echo "$(cpu_ticks "$gateway_pid") $([[ $cohost == 1 ]] && echo 0 || cpu_ticks "$silo_pid") $(cpu_ticks $(pgrep -x postgres))"; }
all_buckets "$work/buckets0"; cpu0=$(cpu_sample); rollup0=$(rollup_sample)
[[ $statements == 1 ]] && psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d profile -qtAXc "SELECT pg_stat_statements_reset()" >/dev/null
run_wrk "$mode" "$duration" > "$work/measured.txt" &
load=$!
print_gc() {
  local port a b name scans
  # Requests wrk counted in the measured run (302s and any others), for the bytes allocated per scan.
  scans=$(tr ' ' '\n' < "$work/measured.txt" | awk -F= '$1 == "s302" || $1 == "other" || $1 == "s503" { n += $2 } END { print n + 0 }')
  all_buckets "$work/buckets1"
  local what title
  for what in handler hosting; do
    title=$([[ $what == handler ]] && echo "the gateway's own scan durations (invexqr.redirect.duration, routing to answer)" \
      || echo "ASP.NET Core's request durations of the same route (http.server.request.duration, headers read to answer written)")
    echo "$title in the measured run (share of scans at or under each bound, cumulative):"
    paste -d " " "$work/buckets0.$what" "$work/buckets1.$what" | awk '{ d[NR] = $4 - $2; le[NR] = $1 } END { for (i = 1; i <= NR; i++) printf "  ≤%s s: %.3f %%\n", le[i], 100 * d[i] / (d[NR] > 0 ? d[NR] : 1) }' | tr '\n' ' '; echo
  done
  read -r -a a <<<"$rollup0"; read -r -a b <<<"$(rollup_sample)"
  awk -v n=$((b[0] - a[0])) -v s="${b[1]}" -v s0="${a[1]}" 'BEGIN { printf "rollup flushes in the measured run: %d, %.0f ms each on average\n", n, (n > 0 ? (s - s0) * 1000 / n : 0) }'
  read -r -a a <<<"$cpu0"; read -r -a b <<<"$(cpu_sample)"
  awk -v n="$scans" -v hz="$(getconf CLK_TCK)" -v g=$((b[0] - a[0])) -v s=$((b[1] - a[1])) -v p=$((b[2] - a[2])) -v c="$cohost" 'BEGIN {
    us = 1e6 / hz / (n > 0 ? n : 1)
    printf "CPU per scan in the measured run: gateway%s %.1f µs, %spostgres %.1f µs (all its processes); together %.1f µs\n",
      (c == 1 ? " + silo" : ""), g * us, (c == 1 ? "" : sprintf("silo %.1f µs, ", s * us)), p * us, (g + s + p) * us }'
  if [[ $statements == 1 ]]; then
    # Execution time, not CPU alone (it includes waits for locks and I/O); per scan of the measured run.
    echo "PostgreSQL statements of the measured run by execution time (pg_stat_statements; µs per scan, calls, rows, mean ms):"
    psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d profile -qtAX -F ' | ' -c "
      SELECT to_char(total_exec_time * 1000 / greatest($scans, 1), 'FM9990.0') || ' µs', calls, rows, to_char(mean_exec_time, 'FM9990.000'),
             left(regexp_replace(query, '\s+', ' ', 'g'), 120)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'profile')
       ORDER BY total_exec_time DESC LIMIT 12" | sed 's/^/  /'
  fi
  if [[ $webhook != 0 ]]; then
    echo "webhook: $(curl -fsS "http://127.0.0.1:$receiver_port/stats" | awk '{ printf "%d events in %d requests received, %d bad signatures", $2, $1, $5 }'), $(psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d profile -qtAXc "SELECT coalesce(sum(event_count), 0) FROM webhook_outbox") still in the outbox"
  fi
  for port in "${gc_ports[@]}"; do
    read -r -a a <<<"${gc0[$port]}"; read -r -a b <<<"$(gc_sample "$port")"
    name=$([[ $port == "$gateway_http" ]] && echo "gateway$([[ $cohost == 1 ]] && echo ' + silo')" || echo silo)
    echo "GC in the $name during the measured run: gen0 $((b[0] - a[0])), gen1 $((b[1] - a[1])), gen2 $((b[2] - a[2])) collections, $(awk -v x="${b[3]}" -v y="${a[3]}" 'BEGIN { printf "%.0f", (x - y) * 1000 }') ms paused, $(awk -v x="${b[4]}" -v y="${a[4]}" -v n="$scans" 'BEGIN { printf "%.0f", (n > 0 ? (x - y) / n : 0) }') bytes allocated per scan"
  done
}
name_of() { # PID → a readable name
  case $1 in "$gateway_pid") echo "gateway$([[ $cohost == 1 ]] && echo ' + silo')" ;; "$silo_pid") echo silo ;;
    0) echo idle ;; *) ps -o comm= -p "$1" 2>/dev/null || echo "pid $1" ;; esac
}
if (( profile == 0 )); then
  wait "$load"; echo "measured ($duration s, wrk -t2 -c64, no profiler): $(cat "$work/measured.txt")"; print_gc; exit 0
fi
if [[ $alloc == 1 ]]; then
  # Allocation samples instead of CPU samples: the runtime's GC events at verbose level (an AllocationTick per
  # ~100 KB, naming the type) from each .NET process during the middle PROFILE s.
  sleep $(( (duration - profile) / 2 ))
  trace_pids=("$gateway_pid"); [[ $cohost == 1 ]] || trace_pids+=("$silo_pid")
  for pid in "${trace_pids[@]}"; do
    "$dotnet_trace" collect -p "$pid" --providers Microsoft-Windows-DotNETRuntime:0x1:5 --duration "00:00:00:$(printf %02d "$profile")" \
      -o "$work/alloc-$pid.nettrace" > "$work/trace-$pid.log" 2>&1 &
  done
  wait "$load"
  sleep 2
  echo "measured ($duration s, wrk -t2 -c64, allocation sampling): $(cat "$work/measured.txt")"
  print_gc
  for pid in "${trace_pids[@]}"; do
    echo; echo "$(name_of "$pid"): types by share of the bytes allocated (sampled during the middle $profile s)"
    [[ -s "$work/alloc-$pid.nettrace" ]] || die "dotnet-trace wrote no trace: $(tail -3 "$work/trace-$pid.log")"
    dotnet bench/InvexQr.AllocationTypes/bin/Release/net10.0/InvexQr.AllocationTypes.dll "$work/alloc-$pid.nettrace" "$top"
  done
  exit 0
fi
sleep $(( (duration - profile) / 2 ))
perf record -F 499 -a -g -o "$work/perf.data" -- sleep "$profile" > "$work/perf-record.log" 2>&1 || die "perf record failed: $(tail -3 "$work/perf-record.log")"
wait "$load"
echo "measured ($duration s, wrk -t2 -c64): $(cat "$work/measured.txt")"
print_gc

echo; echo "samples per process (${profile} s × $(nproc) cores at 499 Hz; PostgreSQL has one process per connection):"
perf script -i "$work/perf.data" -F pid 2>/dev/null | sort | uniq -c | sort -rn > "$work/by-pid.txt"
total=$(awk '{ s += $1 } END { print s }' "$work/by-pid.txt")
while read -r n pid; do
  printf '  %6.1f %%  %s\n' "$(awk -v n="$n" -v t="$total" 'BEGIN { print 100 * n / t }')" "$(name_of "$pid")"
done < <(head -8 "$work/by-pid.txt" || true)
report() { # TITLE PID-or-COMM-filter
  echo; echo "$1: top $top methods by self time (% of its samples)"
  perf report -i "$work/perf.data" --no-children -g none --percentage relative --sort dso,sym --stdio $2 2>/dev/null \
    | grep -E '^ +[0-9]' | head -"$top" | sed -E 's/ +\[[.kx]\] / /; s/^/  /' | cut -c1-170 || true
}
if [[ $cohost == 1 ]]; then
  report "gateway with co-hosted silo (pid $gateway_pid)" "--pid $gateway_pid"
else
  report "gateway (pid $gateway_pid)" "--pid $gateway_pid"
  report "silo (pid $silo_pid)" "--pid $silo_pid"
fi
report "PostgreSQL" "--comm postgres"
