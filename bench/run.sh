#!/usr/bin/env bash
# Scan-path benchmark of InvexQR (issues #8 and #18): one command, everything on loopback, bounded in time.
#
#   bench/run.sh            full run (DURATION s per measured run, 10,000 codes, 100,000 activated codes,
#                           1,000,000 codes in the realistic mix; about 20 minutes)
#   bench/run.sh --smoke    the whole harness in 3 to 5 minutes (2 s runs, 1,000 codes, 5,000 activated,
#                           100,000 in the mix)
#
# It installs wrk (Debian package), builds the solution in Release, fetches the data packages, starts a
# throwaway PostgreSQL, one silo, one gateway and a bare ASP.NET Core baseline server (bench/InvexQr.BaselineServer),
# creates codes through the API, and measures with wrk (scripts in bench/lib/):
#   baseline      GET /r/<one of 10,000> against the baseline server (measured before and after; the mean is
#                 the denominator of every ratio)
#   full path     the same URLs on the gateway: gateway → code grain → scan recorded
#   5 rules       the full path on 10,000 codes that each carry 5 routing rules (issue 23)
#   webhook       the full path on 10,000 codes of an owner whose webhook endpoint takes every event (issue 24),
#                 then the plain full path again, WEBHOOK_PAIRS times (3; smoke 1): the mean of the webhook runs is
#                 compared with the mean of the plain runs (the first full path and one after each webhook run)
#   hot code      all traffic on one code
#   paced         the full path with each connection pausing after every answer, to 50 % of the full path's
#                 req/s (the pause calibrated on the warm-up): the p99 under load without saturating the 2 cores
#   clients       the full path with each request from one of 40,000 public addresses (X-Forwarded-For; the
#                 gateways trust 127.0.0.1 as a proxy), each with a real user agent (10 % crawlers and link
#                 previewers): geolocation, user-agent parsing, per-address throttling and unique-visitor
#                 sketches work as for a real audience
#   cold start    the first scan of codes that no silo has activated yet (inserted with SQL), each once
#   activation    the first scan of 100,000 more codes: activation rate over time, then the silo's idle CPU and
#                 its GC heap per active code (after a forced full collection)
#   realistic mix the headline: 1,000,000 codes, requests drawn Zipf-like over them (s = 1.1: a few hot, most
#                 cold), the clients' audience, and the silo restarted with idle grains collected after
#                 COLLECTION_AGE s, so codes deactivate during the run as they would over a day; the share of
#                 scans that found their code inactive is the silo's qrcode activations over the 302s
#   durability    the full path twice, on a silo restarted with ScanSink:Durability=Buffered, then =Committed,
#                 each time its codes activated first with HEAD requests (which record nothing): a fair pair
#   co-hosted     full path and hot code with Gateway:CoHostSilo=true (one process is gateway and silo)
#   unknown       random codes that do not exist: default guard (Network:UnknownCodes, mostly 429 without a
#                 lookup) and, on a second gateway with the guard raised, random codes (every one a lookup)
#                 and a fixed set of 100 codes (negative caches), with PostgreSQL transactions per request
# and prints one table (req/s, p50, p99, ratio to the baseline, 302s, rows written, equal?), the scan sink's
# ingestion rate, the CPU split of gateway / silo / PostgreSQL during the full-path run, the silo's memory
# per active code, and the targets of issue #18 with the measured figure and met / not met. Every scan-path run
# compares the 302s wrk received with the rows added to qr_scans and the script fails (exit 1) when they
# differ. Output also goes to bench/results/<timestamp>.txt.
#
# Environment (optional): DURATION (s, default 20), WARMUP (s, default 3), CONNECTIONS (64), THREADS (2),
# CODES (10000), COLD_CODES (10000), ACTIVE_CODES (100000), ACTIVATION_BUDGET (s for the activation pass; 150,
# smoke 40), MIX_CODES (1000000, smoke 100000), MIX_ZIPF_S (1.1), COLLECTION_AGE (s an idle grain stays active
# in the realistic mix; 10, smoke 4), TIME_LIMIT (s, whole script; default 1500, smoke 600), KEEP_LOGS (set:
# keep the processes' logs), ROUTING (1: every code carries 5 routing rules, issue 23; without it only the
# "full path, 5 rules per code" run's 10,000 codes q00000… do),
# WEBHOOK (1: one webhook endpoint subscribed to every event of every code, posting to bench/lib/webhook-receiver.py
# on loopback, which checks each signature; issue 24: compare the full-path ratio with a run without),
# WEBHOOK_PAIRS (webhook runs, each followed by a plain one; 3, smoke 1).
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
  active_codes=${ACTIVE_CODES:-5000}; time_limit=${TIME_LIMIT:-600}; stats_wait=2; idle_window=2
  cold_budget=30; activation_budget=${ACTIVATION_BUDGET:-40}; mix_codes=${MIX_CODES:-100000}
  collection_age=${COLLECTION_AGE:-4}; idle_cpu_window=3
else
  duration=${DURATION:-20}; warmup=${WARMUP:-3}; codes=${CODES:-10000}; cold_codes=${COLD_CODES:-10000}
  active_codes=${ACTIVE_CODES:-100000}; time_limit=${TIME_LIMIT:-1500}; mix_codes=${MIX_CODES:-1000000}
  collection_age=${COLLECTION_AGE:-10}; idle_cpu_window=10
  # PostgreSQL 15 backends publish their statistics at most once a second, and an idle one only after 10 s:
  # wait that long before reading pg_stat_database.
  stats_wait=11; idle_window=10
  cold_budget=90; activation_budget=${ACTIVATION_BUDGET:-150}
fi
connections=${CONNECTIONS:-64}
webhook_pairs=${WEBHOOK_PAIRS:-$([[ $smoke == 1 ]] && echo 1 || echo 3)}
[[ $webhook_pairs =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: WEBHOOK_PAIRS must be a positive integer" >&2; exit 2; }
threads=${THREADS:-2}
mix_zipf_s=${MIX_ZIPF_S:-1.1}
for v in duration warmup codes cold_codes active_codes connections threads time_limit activation_budget mix_codes collection_age; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench/run.sh: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done
[[ $mix_zipf_s =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk "BEGIN { exit !($mix_zipf_s > 0 && $mix_zipf_s != 1) }" \
  || { echo "bench/run.sh: MIX_ZIPF_S must be a number > 0 other than 1 (got '$mix_zipf_s')" >&2; exit 2; }
(( codes <= 100000 && cold_codes <= 100000 && active_codes <= 1000000 && mix_codes <= 5000000 )) \
  || { echo "bench/run.sh: at most 100000 CODES / COLD_CODES, 1000000 ACTIVE_CODES and 5000000 MIX_CODES" >&2; exit 2; }
(( collection_age >= 2 )) || { echo "bench/run.sh: COLLECTION_AGE must be at least 2 (s)" >&2; exit 2; }
# Idle grains are looked at every quantum and collected once idle for the age: a code idle for age..age+quantum
# goes. The mix warms up for that long, so its measured run starts with as many codes leaving as arriving.
collection_quantum=$(( collection_age / 2 ))
mix_warmup=$(( collection_age + collection_quantum ))
(( connections >= threads )) || { echo "bench/run.sh: CONNECTIONS must be at least THREADS" >&2; exit 2; }

mkdir -p "$root/bench/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
suffix=""; [[ $smoke == 1 ]] && suffix="-smoke"
results="$root/bench/results/$stamp$suffix.txt"
# Everything from here on goes to the terminal and to the results file.
exec > >(tee "$results") 2>&1

die() { echo "bench/run.sh: FAILED: $*" >&2; exit 1; }
step() { printf '\n==> %s  [%s s]\n' "$*" "$(calc %.0f "$(now_s) - ${script_started:-$(now_s)}")"; }
say() { printf '    %s\n' "$*"; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; } # calc FORMAT EXPRESSION (in parentheses: a ">" is not a redirection)

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
start_watchdog "$time_limit" bench/run.sh
watchdog=$!

script_started=$(now_s)
echo "InvexQR scan benchmark $(date -u '+%F %T UTC')$([[ $smoke == 1 ]] && echo ' (SMOKE: numbers are not meaningful)')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "wrk -t$threads -c$connections, measured runs of ${duration} s after ${warmup} s of warm-up; $codes codes, $cold_codes cold codes, $active_codes activated codes; realistic mix over $mix_codes codes (Zipf s = $mix_zipf_s, idle grains collected after $collection_age s)"
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
# dotnet-gcdump forces a full blocking collection in the silo (it walks the heap after one), so that the GC heap
# per active code is read from live objects, not from whatever garbage the last collection left.
gcdump=$(command -v dotnet-gcdump || echo "$HOME/.dotnet/tools/dotnet-gcdump")
if [[ ! -x "$gcdump" ]]; then
  say "installing dotnet-gcdump (dotnet tool install -g)"
  timeout 300 dotnet tool install -g dotnet-gcdump >/dev/null || die "dotnet tool install -g dotnet-gcdump failed"
fi
say "built; data packages in place; dotnet-gcdump $("$gcdump" --version 2>/dev/null | head -1 | sed 's/+.*//')"

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
api_key="bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
# Cluster TLS as every deployment runs it (docs/security.md): the silo's certificate by default (a co-hosting gateway
# is a silo), the client-only one for a separate gateway (gateway_tls).
bash scripts/cluster-certs.sh "$work/tls" >/dev/null || die "scripts/cluster-certs.sh failed"
gateway_tls=("Orleans__Tls__CertificatePath=$work/tls/gateway.crt" "Orleans__Tls__KeyPath=$work/tls/gateway.key")
common_env=(
  "Orleans__Tls__CaPath=$work/tls/ca.crt" "Orleans__Tls__CertificatePath=$work/tls/silo.crt" "Orleans__Tls__KeyPath=$work/tls/silo.key"
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

# WEBHOOK=1: the receiver (loopback, stops by itself at the time limit); silos may post to loopback.
webhook=${WEBHOOK:-0}
[[ $webhook == 0 || $webhook == 1 ]] || die "WEBHOOK must be 0 or 1"
# Without WEBHOOK=1 the receiver serves the "full path, webhook on every code" run (one owner's codes only).
command -v python3 >/dev/null || die "python3 is required (the webhook receiver, bench/lib/webhook-receiver.py)"
receiver_port=$(bash scripts/pg.sh free-port $((port_base + 800)))
python3 "$root/bench/lib/webhook-receiver.py" "$receiver_port" --seconds "$time_limit" --secret-file "$work/webhook-secret" \
  > "$work/receiver.log" 2>&1 &
pids+=($!)
common_env+=("Webhooks__AllowPrivateAddresses=true")

start_process() { # NAME URL DLL [ENV...]: starts it in the background, appends its pid to pids, echoes nothing
  local name=$1 url=$2 dll=$3; shift 3
  # Appended: a restarted process's log follows its predecessor's, so KEEP_LOGS shows every start.
  echo "==== $name started $(date -u +%H:%M:%S) with: $*" >> "$work/$name.log"
  env "${common_env[@]}" "$@" ASPNETCORE_URLS="$url" dotnet "$dll" >> "$work/$name.log" 2>&1 &
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
start_process gateway "$gateway" "$gateway_dll" "${gateway_tls[@]}"
wait_ready gateway "$gateway" "$gateway_pid"
wait_ready baseline "$baseline" "$baseline_pid"
say "PostgreSQL 127.0.0.1:$pg_port (pid $postmaster), silo $silo_url (pid $silo_pid), gateway $gateway (pid $gateway_pid), baseline $baseline (pid $baseline_pid)"

# ------------------------------------------------------------------------------------------- 3. codes
step "codes"
auth=(-H "Authorization: Bearer $api_key")
if [[ $webhook == 1 ]]; then # before the codes: no filter, so every code of the admin's (all of them) is covered
  curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -X POST "$gateway/api/webhooks" -o "$work/webhook.json" \
    -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"events\":[\"scan\",\"code.created\",\"code.updated\",\"code.deleted\",\"code.gone\"]}" \
    || die "POST /api/webhooks failed"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/webhook.json" > "$work/webhook-secret"
  say "webhook endpoint registered: every event of every code to http://127.0.0.1:$receiver_port/hook"
fi
# 5 rules of every kind (stored normalised, as the API would store them): on the q codes always, on every code with ROUTING=1.
routing_json='{"timeZone":"Europe/Paris","rules":[{"id":"ios","when":{"device":["mobile","tablet"],"os":["ios"]},"target":"https://apps.apple.com/app/id1"},{"id":"android","when":{"os":["android"]},"target":"https://play.google.com/store/apps/details?id=x"},{"id":"fr","when":{"country":["FR","BE","CH"],"language":["fr"]},"target":"https://example.fr/"},{"id":"hours","when":{"time":{"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"18:00"}},"target":"https://example.org/open"},{"id":"ab","when":{"device":["desktop"]},"split":[{"id":"a","target":"https://example.org/a","weight":50},{"id":"b","target":"https://example.org/b","weight":50}]}],"passQuery":false}'
if [[ ${ROUTING:-0} == 1 ]]; then routing_body=",\"routing\":$routing_json"; routing_sql="'$routing_json'::jsonb"; else routing_body=""; routing_sql="NULL::jsonb"; fi
export ROUTING_CFG=${routing_body//\"/\\\"}   # for curl's config file: every quote escaped
status=$(curl -sS -o "$work/hot.json" -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
  -X POST "$gateway/api/codes" -d '{"targetUrl":"https://example.org/hot","code":"hot"'"$routing_body"'}') || die "POST /api/codes failed"
[[ $status == 201 ]] || { cat "$work/hot.json"; die "POST /api/codes answered $status (expected 201)"; }

# b00000 … : created through the API, several requests at a time on kept-alive connections (one curl).
width_b=5
awk -v n="$codes" -v url="$gateway/api/codes" -v key="$api_key" 'BEGIN {
  for (i = 0; i < n; i++) {
    code = sprintf("b%05d", i)
    printf "url = \"%s\"\nheader = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n", url, key
    printf "data = \"{\\\"targetUrl\\\":\\\"https://example.org/%s\\\",\\\"code\\\":\\\"%s\\\"%s}\"\n", code, code, ENVIRON["ROUTING_CFG"]
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
INSERT INTO qr_codes (code, owner_id, target_url, routing)
SELECT 'c' || lpad(g::text, 5, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/c' || g, $routing_sql
  FROM generate_series(0, $cold_codes - 1) AS g;
INSERT INTO qr_codes (code, owner_id, target_url, routing)
SELECT 'm' || lpad(g::text, 7, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/m' || g, $routing_sql
  FROM generate_series(0, $active_codes - 1) AS g;
INSERT INTO qr_codes (code, owner_id, target_url, routing)
SELECT 'q' || lpad(g::text, 5, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/q' || g, '$routing_json'::jsonb
  FROM generate_series(0, $codes - 1) AS g;
ANALYZE qr_codes;
SQL
say "$cold_codes cold codes c00000… and $active_codes codes m0000000… inserted with SQL in $(calc %.1f "$(now_s) - $started") s"

# ------------------------------------------------------------------------------------------- wrk runs
declare -A B                   # the BENCH line of the last run
order=()                       # scenario names, in the order of the table
declare -A R_rps R_p50 R_p99 R_302 R_rows R_equal R_is_baseline
mismatches=0

scan_rows() { sql -c "SELECT count(*) FROM qr_scans"; }

# wrk_run MODE PREFIX COUNT WIDTH SECONDS URL: runs bench/lib/scan.lua, leaves its numbers in B (the mix's
# Zipf exponent goes along; the other modes ignore it).
# wrk's own -d is only a safety limit: the Lua script stops each thread cleanly (see scan.lua) and drops a
# marker file; when all threads have, wrk is ended with SIGINT. wrk_on_done (if set) runs at that moment.
wrk_on_done=""
wrk_run() {
  local mode=$1 prefix=$2 count=$3 width=$4 seconds=$5 url=$6
  local limit=$((seconds + 20))
  local dir; dir=$(mktemp -d "$work/wrk.XXXXXX")
  BENCH_PAUSE_MS=${pause_ms:-0} timeout -k 5 $((limit + 15)) wrk -t"$threads" -c"$connections" -d"${limit}s" --timeout 10s --latency \
    -s "$root/bench/lib/scan.lua" "$url" -- "$mode" "$prefix" "$count" "$width" "$seconds" "$threads" "$dir" "$mix_zipf_s" \
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
  (( B[other] > 0 )) && statuses+=", other: ${B[other]} (${B[others]})"
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

# record NAME [KIND]: stores B's numbers for the table (rows and equal are set by check_rows). KIND "baseline":
# a run of the baseline server, the denominator of the ratios; "unchecked": no rows to check, but a ratio.
record() {
  order+=("$1")
  R_rps[$1]=${B[rps]}; R_p50[$1]=${B[p50_us]}; R_p99[$1]=${B[p99_us]}; R_302[$1]=${B[s302]}
  R_rows[$1]="-"; R_equal[$1]="-"; R_is_baseline[$1]=${2:-}
}

# check_rows NAME BEFORE [unknown]: rows added since BEFORE must equal the 302s of NAME's run (which, after a clean
# stop, are exactly the scans the gateway acknowledged), and every answer must be a 302 unless the codes are unknown.
check_rows() {
  local name=$1 before=$2 added
  added=$(wait_rows "$before" "${B[s302]}")
  R_rows[$name]=$added
  if [[ $added == "${B[s302]}" ]]; then R_equal[$name]=yes; else R_equal[$name]=NO; mismatches=$((mismatches + 1)); fi
  # Every code of a scan run exists: an answer other than 302 is a failure, not a figure (rows = 302s would still hold).
  if [[ "${3:-}" != unknown ]] && (( B[s302] * 1000 < B[answered] * 999 )); then
    R_equal[$name]="NO 302"; mismatches=$((mismatches + 1))
    say "FAILED: only ${B[s302]} of ${B[answered]} answers were 302s"
  fi
  say "rows added to qr_scans: $added, 302s received: ${B[s302]} → $([[ ${R_equal[$name]} == yes ]] && echo equal || echo 'NOT EQUAL')"
}

# scenario NAME URL MODE PREFIX COUNT WIDTH [KIND]: warm-up run (WARMUP s, or scenario_warmup), then the measured
# run; checks rows for scans (KIND empty; see record).
scenario() {
  local name=$1 url=$2 mode=$3 prefix=$4 count=$5 width=$6 kind=${7:-}
  step "$name"
  local before
  if [[ -z $kind ]]; then before=$(scan_rows); fi
  wrk_run "$mode" "$prefix" "$count" "$width" "${scenario_warmup:-$warmup}" "$url"
  say "warm-up ($(calc %.0f "${B[window_us]} / 1e6") s): $(calc %.0f "${B[rps]}") req/s, ${B[s302]} × 302 of ${B[answered]}"
  if [[ -z $kind ]]; then
    local added; added=$(wait_rows "$before" "${B[s302]}")
    [[ $added == "${B[s302]}" ]] || { say "warm-up: rows added $added ≠ 302s ${B[s302]}"; mismatches=$((mismatches + 1)); }
    before=$(scan_rows)
  fi
  [[ -n "${scenario_before_measure:-}" ]] && $scenario_before_measure
  wrk_run "$mode" "$prefix" "$count" "$width" "$duration" "$url"
  describe
  record "$name" "$kind"
  [[ -z $kind ]] && check_rows "$name" "$before"
  return 0
}

# -------------------------------------------------------------------- baseline, full path (+ CPU, sink), hot code
hz=$(getconf CLK_TCK)
cores=$(nproc)
# CPU per answered request of a measured run: the processes in cpu_pids, PostgreSQL and wrk itself, over the
# requests wrk had answered. With every core busy, req/s is about the cores' time over this figure, so the
# baseline's figure over a scenario's is the ratio that scenario can reach on these cores at its present cost.
declare -A R_cpu_us R_wrk_us
cpu_pids=()
# Hooks of scenario_with_cpu's measured run; extra_before / extra_after (when set) run with them.
run_cpu_before() {
  run_cpu0=$(( $(cpu_ticks "${cpu_pids[@]}") + $(postgres_ticks "$postmaster") ))
  [[ -n "${extra_before:-}" ]] && $extra_before
  return 0
}
run_cpu_after() {
  local wrk_process; wrk_process=$(pgrep -P "$wrk_pid" | head -1 || true) # wrk itself, started after run_cpu_before
  run_wrk=$(cpu_ticks ${wrk_process:-0})
  run_cpu1=$(( $(cpu_ticks "${cpu_pids[@]}") + $(postgres_ticks "$postmaster") + run_wrk ))
  [[ -n "${extra_after:-}" ]] && $extra_after
  return 0
}
# scenario_with_cpu NAME PID... -- SCENARIO ARGS...: a scenario whose CPU per request is kept in R_cpu_us[NAME]
# (wrk's own share in R_wrk_us[NAME]).
scenario_with_cpu() {
  local name=$1; shift
  cpu_pids=(); while [[ $1 != -- ]]; do cpu_pids+=("$1"); shift; done; shift
  scenario_before_measure=run_cpu_before wrk_on_done=run_cpu_after scenario "$name" "$@"
  R_cpu_us[$name]=$(calc %.1f "1e6 * ($run_cpu1 - $run_cpu0) / $hz / ${B[answered]}")
  R_wrk_us[$name]=$(calc %.1f "1e6 * $run_wrk / $hz / ${B[answered]}")
  say "CPU per answered request (its processes, PostgreSQL and wrk): ${R_cpu_us[$name]} µs, of which wrk ${R_wrk_us[$name]} µs"
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
R_wrk_us[full path]=$(calc %.1f "1e6 * $cpu_wrk / $hz / ${B[answered]}")
say "CPU per answered request: ${R_cpu_us[full path]} µs (gateway $(calc %.1f "1e6 * $d_gw / $hz / ${B[answered]}"), silo $(calc %.1f "1e6 * $d_silo / $hz / ${B[answered]}"), PostgreSQL $(calc %.1f "1e6 * $d_pg / $hz / ${B[answered]}"), wrk $(calc %.1f "1e6 * $cpu_wrk / $hz / ${B[answered]}"))"
# wrk's latency includes queueing outside the handler (Kestrel, thread pool, kernel, wrk itself) on the shared cores.
server_line="gateway's own time per scan in the full-path run (invexqr.redirect.duration, routing to answer): $(paste -d " " "$work/buckets0.txt" "$work/buckets1.txt" \
  | awk '{ le[NR] = $1; d[NR] = $4 - $2 } END { for (i = 1; i <= NR; i++) if (le[i] == "0.005" || le[i] == "0.01" || le[i] == "0.025") printf "%s%.2f %% ≤ %g ms", (n++ ? ", " : ""), 100 * d[i] / d[NR], le[i] * 1000
    for (i = 1; i <= NR; i++) if (d[i] >= 0.99 * d[NR]) { printf "; p99 ≤ %g ms (histogram bucket)", le[i] * 1000; break } }')"
server_p99=$(sed -nE 's/.*p99 ≤ ([0-9.]+) ms \(histogram bucket\).*/≤ \1/p' <<<"$server_line")
say "$server_line"
sink_line="scan sink ingestion: ${R_rows[full path]} rows in $(calc %.2f "$full_rows_at - $cpu0_t") s = $full_ingest rows/s (all rows in $full_lag s after the last answer; silo counter invexqr_scan_sink_written: +$((sink1 - sink0)))"
say "$sink_line"

# Codes inserted with SQL are activated by their first scan: touch_codes activates them before a run that is compared
# with the warm full path, so that the comparison is of the scan path alone.
touch_codes() { # PREFIX COUNT WIDTH URL: HEAD /r/<code> for each code (curl, 32 at a time) → the number of 302s
  local prefix=$1 count=$2 width=$3 url=$4
  awk -v n="$count" -v p="$prefix" -v w="$width" -v url="$url" 'BEGIN {
    for (i = 0; i < n; i++) {
      printf "url = \"%s/r/%s%0" w "d\"\nhead\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", url, p, i
      if (i < n - 1) print "next"
    }
  }' > "$work/touch.curl"
  timeout "$cold_budget" curl -sS --parallel --parallel-max 32 -K "$work/touch.curl" 2>/dev/null > "$work/touch.statuses" || true
  grep -c '^302$' "$work/touch.statuses" || true
}
# The same scan path on codes that each carry 5 routing rules (issue 23), run right after the plain one.
scenario "full path, 5 rules per code" "$gateway" random q "$codes" $width_b
# Issue 24: the same scan path on the codes of an owner with one webhook endpoint for every event of its codes (each
# scan batch queues its events in the outbox in the same statement; the silo delivers them to the receiver), in
# WEBHOOK_PAIRS pairs: a webhook run, then (the outbox drained and the endpoint disabled, so nothing is queued) the
# plain full path again. Consecutive 20 s runs on this kind of machine differ by up to a third, so the figure is the mean
# of the webhook runs against the mean of the plain runs around them (the first plain run is the least warmed: runs
# measured later came out 8-17 % faster with no change to their path). The endpoint is deleted afterwards, so the
# later runs do not pay for it. WEBHOOK=1 has every code hooked already.
hook_line=""
if [[ $webhook == 0 ]]; then
  curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -X POST "$gateway/api/owners" -o "$work/hooked.json" \
    -d '{"name":"bench-hooked","role":"owner"}' || die "POST /api/owners failed"
  hook_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiKey"]["key"])' "$work/hooked.json")
  curl -fsS -H "Authorization: Bearer $hook_key" -H 'Content-Type: application/json' -X POST "$gateway/api/webhooks" -o "$work/webhook.json" \
    -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"events\":[\"scan\",\"code.created\",\"code.updated\",\"code.deleted\",\"code.gone\"]}" \
    || die "POST /api/webhooks failed"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/webhook.json" > "$work/webhook-secret"
  hook_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/webhook.json")
  hook_enabled() { # true|false
    curl -fsS -o /dev/null -H "Authorization: Bearer $hook_key" -H 'Content-Type: application/json' -X PATCH \
      "$gateway/api/webhooks/$hook_id" -d "{\"enabled\":$1}" || die "PATCH /api/webhooks/$hook_id enabled=$1 failed"
  }
  sql -c "INSERT INTO qr_codes (code, owner_id, target_url)
          SELECT 'w' || lpad(g::text, $width_b, '0'), (SELECT id FROM owners WHERE name = 'bench-hooked'), 'https://example.org/w' || g
            FROM generate_series(0, $codes - 1) AS g; ANALYZE qr_codes" >/dev/null || die "inserting the hooked owner's codes failed"
  started=$(now_s); touched=$(touch_codes w "$codes" "$width_b" "$gateway")
  say "activated $touched of $codes hooked codes with HEAD in $(calc %.1f "$(now_s) - $started") s (HEAD records nothing: no events)"
  hook_runs=(); plain_runs=("full path"); pair_ratios=(); drain_s=()
  for pair in $(seq 1 "$webhook_pairs"); do
    sfx=$([[ $pair == 1 ]] || echo " ($pair)")
    [[ $pair == 1 ]] || hook_enabled true
    scenario "full path, webhook on every code$sfx" "$gateway" random w "$codes" $width_b
    hook_done=$(now_s)
    for _ in $(seq 1 120); do [[ $(sql -c "SELECT count(*) FROM webhook_outbox") == 0 ]] && break; sleep 0.5; done
    drain_s+=("$(calc %.0f "$(now_s) - $hook_done")")
    hook_enabled false
    scenario "full path, after the webhook run$sfx" "$gateway" random b "$codes" $width_b
    hook_runs+=("full path, webhook on every code$sfx"); plain_runs+=("full path, after the webhook run$sfx")
    pair_ratios+=("$(calc %.1f "200 * ${R_rps[full path, webhook on every code$sfx]} / (${R_rps[${plain_runs[-2]}]} + ${R_rps[${plain_runs[-1]}]})")")
  done
  read -r w_requests w_events w_first w_last w_bad < <(curl -fsS "http://127.0.0.1:$receiver_port/stats") || die "the webhook receiver is gone"
  w_waiting=$(sql -c "SELECT coalesce(sum(event_count), 0) FROM webhook_outbox")
  (( w_bad == 0 )) || die "$w_bad webhook requests failed the receiver's signature check"
  curl -fsS -o /dev/null -H "Authorization: Bearer $hook_key" -X DELETE "$gateway/api/webhooks/$hook_id" || die "DELETE /api/webhooks/$hook_id failed"
  mean_of() { local sum=0 n; for n in "$@"; do sum=$(calc %.3f "$sum + ${R_rps[$n]}"); done; calc %.1f "$sum / $#"; }
  list_of() { local n out=""; for n in "$@"; do out+="${out:+, }$(calc %.0f "${R_rps[$n]}")"; done; echo "$out"; }
  hook_mean=$(mean_of "${hook_runs[@]}"); plain_mean=$(mean_of "${plain_runs[@]}")
  hook_line="webhooks (issue 24): full path on the codes of an owner with one endpoint for every event, mean of $webhook_pairs runs $(calc %.0f "$hook_mean") req/s = $(calc %.1f "100 * $hook_mean / $plain_mean") % of the plain full path's mean of $((webhook_pairs + 1)) runs $(calc %.0f "$plain_mean") req/s (target ≥ 90 %; webhook runs $(list_of "${hook_runs[@]}"), plain runs $(list_of "${plain_runs[@]}") in order; each webhook run against the plain runs either side ${pair_ratios[*]} %); $w_events events delivered in $w_requests signed requests, outbox drained ${drain_s[*]} s after each webhook run, $w_waiting still waiting"
  say "$hook_line"
fi
scenario "hot code" "$gateway" one hot 1 0
# The same connections, each pausing after an answer so that the offered load is half of what the full path just
# served: the p99 of a loaded but not saturated gateway, next to the saturated one's. A connection's cycle is its
# pause plus what each answer adds (latency, wrk's timers): the warm-up measures that, and sets the run's pause.
paced_target=$(calc %.1f "0.5 * ${R_rps[full path]}")
floor_pause() { awk "BEGIN { exit !($pause_ms < 0.1) }" && pause_ms=0.1; return 0; }
pause_ms=$(calc %.2f "1000 * $connections / $paced_target - 1"); floor_pause
calibrate_pause() {
  local extra; extra=$(calc %.3f "1000 * $connections / ${B[rps]} - $pause_ms")
  pause_ms=$(calc %.2f "1000 * $connections / $paced_target - $extra"); floor_pause
  say "warm-up at $(calc %.0f "100 * ${B[rps]} / ${R_rps[full path]}") % of the full path's req/s: an answer adds $extra ms to a connection's cycle; the measured run pauses $pause_ms ms"
}
paced_name="full path, paced to 50 %"
scenario_before_measure=calibrate_pause scenario "$paced_name" "$gateway" random b "$codes" $width_b
pause_ms=0
scenario "full path, varied clients" "$gateway" clients b "$codes" $width_b
scenario_with_cpu "baseline (again)" "$baseline_pid" -- "$baseline" random b "$codes" $width_b baseline
# The mix's requests are built in Lua as they are sent: the baseline server answering them shows what that costs
# the load generator (req/s next to the plain baseline's, and wrk's CPU per request).
scenario_with_cpu "baseline, mix requests" "$baseline_pid" -- "$baseline" mix r "$mix_codes" 7 unchecked

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
start_process gateway2 "$gateway2" "$gateway_dll" "${gateway_tls[@]}" \
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
  check_rows "$name" "$before" unknown
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

# -------------------------------------------------------------------- activation pass, idle CPU, memory per code
step "activation pass: the first scan of $active_codes codes (second gateway, at most $activation_budget s), then the silo idle with them active, and its GC heap"
silo_metric() { # REGEX → the sum of the silo's Prometheus samples whose line matches (0 when none)
  curl -fsS "$silo_url/metrics" | awk -v re="$1" '$0 ~ re && !/^#/ { s += $NF } END { printf "%.0f", s }'
}
qr_created_re='^orleans_catalog_activation_created_total[{].*grain_type="qrcode"'
qr_destroyed_re='^orleans_catalog_activation_destroyed_total[{].*grain_type="qrcode"'
qr_active_re='^orleans_catalog_activations[{].*grain_type="qrcode"'
# forced_live_heap → the silo's GC heap in bytes right after a full blocking collection (dotnet-gcdump forces one):
# the generations' sizes after it less their fragmentation, i.e. live objects.
# With KEEP_LOGS the dump stays (silo-N.gcdump) and its largest types go to silo-N.types.txt.
gcdumps=0
forced_live_heap() {
  timeout 180 "$gcdump" collect -p "$silo_pid" -o "$work/silo.gcdump" >/dev/null 2>&1 || die "dotnet-gcdump collect failed on the silo"
  if [[ -n "${KEEP_LOGS:-}" ]]; then
    gcdumps=$((gcdumps + 1)); mv "$work/silo.gcdump" "$work/silo-$gcdumps.gcdump"
    timeout 300 "$gcdump" report "$work/silo-$gcdumps.gcdump" 2>/dev/null | head -60 > "$work/silo-$gcdumps.types.txt" || true
  fi
  rm -f "$work/silo.gcdump"
  sleep 1 # the metrics endpoint may answer from its cache for a moment
  echo $(( $(silo_metric '^dotnet_gc_last_collection_heap_size_bytes') - $(silo_metric '^dotnet_gc_last_collection_heap_fragmentation_size_bytes') ))
}
# The silo's idle CPU before the pass too (the same window), to tell what the active codes add from what a silo
# spends anyway (membership, metrics, the sinks' timers).
idle_t0=$(now_s); idle_silo0=$(cpu_ticks "$silo_pid"); sleep "$idle_cpu_window"
idle_before=$(calc %.1f "100 * ($(cpu_ticks "$silo_pid") - $idle_silo0) / ($hz * ($(now_s) - $idle_t0))")
live0=$(forced_live_heap); rss0=$(rss_kib "$silo_pid"); active0=$(silo_metric "$qr_active_re")
before=$(scan_rows)
act0=$(silo_metric "$qr_created_re"); pass_t0=$(now_s)
# The silo's qrcode activations every second: does the rate hold as codes pile up?
( while sleep 1; do echo "$(now_s) $(silo_metric "$qr_created_re")"; done ) > "$work/activations.txt" 2>/dev/null &
sampler=$!
wrk_run walk m "$active_codes" 7 "$activation_budget" "$gateway2"
pass_t1=$(now_s); act1=$(silo_metric "$qr_created_re")
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""
describe
activated=${B[s302]}
activation_name="activation pass ($activated of $active_codes)"
record "$activation_name"
check_rows "$activation_name" "$before"
(( activated == active_codes )) || say "WARNING: only $activated of $active_codes codes activated within $activation_budget s"
(( activated > 0 )) || die "the activation pass activated nothing"
progress=$(awk -v t0="$pass_t0" -v a0="$act0" 'NR % 10 == 0 { printf "%s%.0f s: %d", (n++ ? ", " : ""), $1 - t0, $2 - a0 }' "$work/activations.txt")
[[ -n "$progress" ]] && say "qrcode activations since the pass began: $progress"
# The rate of the first and of the last 10 s (a quarter of the pass each when it is shorter than 40 s).
rate_window=$(calc %.2f "($pass_t1 - $pass_t0) / 4 < 10 ? ($pass_t1 - $pass_t0) / 4 : 10")
read -r first_n first_s last_n last_s < <(awk -v t0="$pass_t0" -v t1="$pass_t1" -v c0="$act0" -v c1="$act1" -v w="$rate_window" '
  { t[NR] = $1; c[NR] = $2 }
  END {
    for (i = 1; i <= NR; i++) if (t[i] >= t0 + w) { f = i; break }
    for (i = NR; i >= 1; i--) if (t[i] <= t1 - w) { l = i; break }
    if (!f || !l) { print "0 1 0 1"; exit }
    printf "%d %.2f %d %.2f\n", c[f] - c0, t[f] - t0, c1 - c[l], t1 - t[l]
  }' "$work/activations.txt")
first_rate=$(calc %.0f "$first_n / $first_s"); last_rate=$(calc %.0f "$last_n / $last_s")
flat_pct=$(calc %.0f "$first_n > 0 ? 100 * ($last_n / $last_s) / ($first_n / $first_s) : 0")
rate_line="activation rate: $first_n in the first $first_s s ($first_rate/s), $last_n in the last $last_s s ($last_rate/s) = $flat_pct % of the first"
say "$rate_line"
# Idle: no load, the codes still active (this silo keeps Orleans' default collection age).
sleep 3
active1=$(silo_metric "$qr_active_re"); idle_active=$((active1 - active0))
idle_t0=$(now_s); idle_silo0=$(cpu_ticks "$silo_pid"); sleep "$idle_cpu_window"
idle_silo=$(calc %.1f "100 * ($(cpu_ticks "$silo_pid") - $idle_silo0) / ($hz * ($(now_s) - $idle_t0))")
idle_line="silo CPU while idle for $idle_cpu_window s with $idle_active codes of the pass active: $idle_silo % of one core (before the pass: $idle_before %)"
say "$idle_line"
live1=$(forced_live_heap); rss1=$(rss_kib "$silo_pid")
(( idle_active > 0 )) || idle_active=$activated
heap_per_code=$(calc %.0f "($live1 - $live0) / $idle_active")
mem_line="silo GC heap after a forced full collection $((live0 / 1048576)) → $((live1 / 1048576)) MiB (live objects) = $heap_per_code bytes per active code; RSS $((rss0 / 1024)) → $((rss1 / 1024)) MiB = $(calc %.0f "($rss1 - $rss0) * 1024 / $idle_active") bytes per code (RSS holds GC headroom)"
say "$mem_line"

# -------------------------------------------------------------------- realistic mix
# The silo restarted with idle grains collected after collection_age s: codes scanned less often than that are
# deactivated between their scans, as codes scanned less often than Orleans' default age are over a day. A scan
# that finds its code inactive activates it, so the qrcode activations the silo creates during the measured run
# are the scans that hit a cold code (several scans waiting on one activation count once).
step "realistic mix: its codes, and the silo restarted with Orleans__GrainCollectionAgeSeconds=$collection_age (quantum $collection_quantum s)"
# Its codes: one statement, as a deployment's registry would hold them before the day starts. Inserted here, not
# with the others: the scenarios before keep the timing they had relative to the codes' creation (the gateway
# remembers a known code for a minute), so their figures compare with earlier runs.
started=$(now_s)
# In ten statements, each with its own time limit: one statement for a million rows outlasted psql's limit on a
# machine busy with other work.
for ((chunk = 0; chunk < 10; chunk++)); do
  sql <<SQL >/dev/null || die "inserting the realistic mix's codes failed (chunk $chunk of 10)"
INSERT INTO qr_codes (code, owner_id, target_url, routing)
SELECT 'r' || lpad(g::text, 7, '0'), (SELECT id FROM owners WHERE name = 'admin'), 'https://example.org/r' || g, $routing_sql
  FROM generate_series($chunk * $mix_codes / 10, ($chunk + 1) * $mix_codes / 10 - 1) AS g;
SQL
done
sql -c "ANALYZE qr_codes" >/dev/null || die "ANALYZE qr_codes failed"
mix_insert_s=$(calc %.1f "$(now_s) - $started")
say "$mix_codes codes r0000000… for the realistic mix inserted with one INSERT … SELECT generate_series in $mix_insert_s s ($(calc %.0f "$mix_codes / $mix_insert_s") rows/s); qr_codes now holds $(sql -c "SELECT count(*) FROM qr_codes") codes"
kill -TERM "$silo_pid" 2>/dev/null || true
wait "$silo_pid" 2>/dev/null || true
start_process silo "$silo_url" "$silo_dll" Orleans__GrainCollectionAgeSeconds="$collection_age" \
  Orleans__GrainCollectionQuantumSeconds="$collection_quantum"
wait_ready silo "$silo_url" "$silo_pid"
mix_before() {
  mix_created0=$(silo_metric "$qr_created_re"); mix_destroyed0=$(silo_metric "$qr_destroyed_re")
  mix_active0=$(silo_metric "$qr_active_re"); mix_db_t0=$(sql -c "SELECT now()")
}
mix_after() {
  mix_created1=$(silo_metric "$qr_created_re"); mix_destroyed1=$(silo_metric "$qr_destroyed_re")
  mix_active1=$(silo_metric "$qr_active_re")
}
mix_name="realistic mix"
extra_before=mix_before extra_after=mix_after scenario_warmup=$mix_warmup \
  scenario_with_cpu "$mix_name" "$gateway_pid" "$silo_pid" -- "$gateway" mix r "$mix_codes" 7
mix_cold=$((mix_created1 - mix_created0))
mix_cold_pct=$(calc %.1f "100 * $mix_cold / ${R_302[$mix_name]}")
mix_line="realistic mix: $mix_cold of ${R_302[$mix_name]} scans found their code inactive = $mix_cold_pct % cold (silo: qrcode activations created during the run; $((mix_destroyed1 - mix_destroyed0)) deactivated meanwhile; active codes $mix_active0 at the start, $mix_active1 at the end)"
say "$mix_line"
IFS='|' read -r mix_rows mix_distinct mix_bots mix_addresses mix_located < <(sql -c "
  SELECT count(*), count(DISTINCT qr_code_id), round(100.0 * count(*) FILTER (WHERE is_bot) / greatest(count(*), 1), 1),
         count(DISTINCT ip_address), round(100.0 * count(*) FILTER (WHERE country_code IS NOT NULL) / greatest(count(*), 1), 1)
    FROM qr_scans WHERE scanned_at >= '$mix_db_t0'")
mix_audience="its rows in qr_scans: $mix_rows scans of $mix_distinct distinct codes, $mix_bots % bots, $mix_addresses distinct (anonymised) addresses, $mix_located % with a country"
say "$mix_audience"

# -------------------------------------------------------------------- Buffered against Committed, as a pair
# The full path twice, each on a silo restarted with its ScanSink:Durability (Committed: the 302 waits for the
# scan's group commit) whose codes were activated just before with HEAD (answered by the grain, recorded nowhere)
# through gateway A: the two runs differ in the durability alone, also in how recently the gateway learned the
# codes (it forgets a known code a minute after learning it), which the earlier full path does not share.
durability_run() { # DURABILITY
  step "durability pair: silo restarted with ScanSink__Durability=$1, its codes activated with HEAD"
  kill -TERM "$silo_pid" 2>/dev/null || true
  wait "$silo_pid" 2>/dev/null || true
  start_process silo "$silo_url" "$silo_dll" ScanSink__Durability="$1"
  wait_ready silo "$silo_url" "$silo_pid"
  local before started touched
  before=$(scan_rows); started=$(now_s)
  touched=$(touch_codes b "$codes" "$width_b" "$gateway")
  say "activated $touched of $codes codes with HEAD in $(calc %.1f "$(now_s) - $started") s; rows added: $(( $(scan_rows) - before )) (HEAD records nothing)"
  (( touched == codes )) || say "HEAD statuses: $(sort "$work/touch.statuses" | uniq -c | awk '{printf "%s%s × %s", (NR>1?", ":""), $2, $1}')"
  scenario "full path ($1)" "$gateway" random b "$codes" $width_b
}
durability_run Buffered
durability_run Committed

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
echo "$rate_line"
echo "$idle_line"
echo "$mem_line"
echo "$mix_line"
echo "  $mix_audience"
echo "load generator: the mix's requests (built in Lua as sent) on the baseline server $(calc %.0f "${R_rps[baseline, mix requests]}") req/s = $(calc %.0f "100 * ${R_rps[baseline, mix requests]} / $baseline_rps") % of the plain baseline's; wrk's CPU per request: plain $(calc %.1f "(${R_wrk_us[baseline]} + ${R_wrk_us[baseline (again)]}) / 2") µs and mix ${R_wrk_us[baseline, mix requests]} µs on the baseline server, full path ${R_wrk_us[full path]} µs, realistic mix ${R_wrk_us[$mix_name]} µs"
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
ratio_of() { calc %.1f "100 * ${R_rps[$1]} / $baseline_rps"; } # NAME → its req/s as a % of the baseline's
full_ratio=$(ratio_of "full path"); mix_ratio=$(ratio_of "$mix_name")
hot_vs_full=$(calc %.0f "100 * ${R_rps[hot code]} / ${R_rps[full path]}")
full_p99=$(ms "${R_p99[full path]}")
met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "not met"; fi; }
target_row() { printf '| %-41s | %-70s | %-38s | %-7s |\n' "$@"; } # SCENARIO MEASURED TARGET VERDICT
paced_pct=$(calc %.0f "100 * ${R_rps[$paced_name]} / ${R_rps[full path]}"); paced_p99=$(ms "${R_p99[$paced_name]}")
committed_pct=$(calc %.0f "100 * ${R_rps[full path (Committed)]} / ${R_rps[full path (Buffered)]}")
echo "targets (issue #18; ratios to the baseline's req/s of this run):"
echo
target_row scenario measured target ""
target_row "---" "---" "---" "---"
target_row "realistic mix" "$mix_ratio % ($mix_cold_pct % cold; p50 $(ms "${R_p50[$mix_name]}") ms, p99 $(ms "${R_p99[$mix_name]}") ms; rows = 302s: ${R_equal[$mix_name]})" "≥ 40 %" "$(met "$mix_ratio >= 40")"
target_row "full path, separate silo" "$full_ratio %" "≥ 50 %" "$(met "$full_ratio >= 50")"
target_row "full path, co-hosted" "$(ratio_of "full path (co-hosted)") %" "≥ 60 %" "$(met "$(ratio_of "full path (co-hosted)") >= 60")"
target_row "varied clients" "$(ratio_of "full path, varied clients") %" "≥ 40 %" "$(met "$(ratio_of "full path, varied clients") >= 40")"
target_row "cold start (first pass)" "$(ratio_of "cold start (first pass)") %" "≥ 20 %" "$(met "$(ratio_of "cold start (first pass)") >= 20")"
target_row "activation pass" "$activated of $active_codes; last ${last_s} s at $flat_pct % of the first's rate" "all in ${activation_budget} s; last 10 s ≥ 80 % of first" \
  "$(met "$activated == $active_codes && $flat_pct >= 80")"
target_row "Committed" "$committed_pct % of Buffered ($(calc %.0f "${R_rps[full path (Committed)]}") vs $(calc %.0f "${R_rps[full path (Buffered)]}") req/s, the pair)" "≥ 50 % of Buffered" "$(met "$committed_pct >= 50")"
target_row "p99 paced to 50 % of the full path's load" "$paced_p99 ms (at $paced_pct % of its req/s)" "≤ 10 ms (at ≥ 45 %)" "$(met "$paced_p99 <= 10 && $paced_pct >= 45")"
target_row "memory per active code" "$heap_per_code B (GC heap, live, after a forced full GC)" "≤ 2 KB" "$(met "$heap_per_code <= 2048")"
target_row "idle CPU with $active_codes active codes" "$idle_silo % of a core ($idle_active active)" "≤ 2 % of a core" "$(met "$idle_silo <= 2 && $idle_active >= $active_codes")"
echo
echo "earlier targets (issue #8):"
echo "  hot code ≥ 80 % of the full-path (many codes):  $hot_vs_full % → $(met "$hot_vs_full >= 80")"
echo "  full-path p99 ≤ 10 ms at $connections connections:       $full_p99 ms → $(met "$full_p99 <= 10") (the gateway's own p99 at full load: ${server_p99:-?} ms)"
echo "  unknown-code flood: no database read per request after the first (fixed set of 100 codes, negative caches):"
echo "                                                  $fixed_per_request transactions/request ($fixed_net for 100 codes) → $(met "$fixed_per_request < 0.01")"
echo "(p50/p99 are wrk's, measured on the same $cores cores the servers use: wrk itself competes for the CPU.)"
echo "co-hosted (Gateway:CoHostSilo): full path $(calc %.0f "${R_rps[full path (co-hosted)]}") req/s = $(ratio_of "full path (co-hosted)") % of the baseline, p99 $(ms "${R_p99[full path (co-hosted)]}") ms; hot code $(calc %.0f "${R_rps[hot code (co-hosted)]}") req/s"
# Logging is part of the cost: the shipped defaults should write next to nothing per request.
log_lines=""
for log in "$work"/*.log; do [[ -f "$log" ]] && log_lines+="$(basename "$log" .log) $(wc -l < "$log"), "; done
echo "log lines written during the whole run (shipped logging defaults): ${log_lines%, }"
for log in "$work"/*.log; do # who writes them, where there are many
  [[ -f "$log" ]] && (( $(wc -l < "$log") > 1000 )) || continue
  echo "  $(basename "$log" .log), most frequent: $(grep -hoE '^(info|warn|fail|crit|dbug|trce): [A-Za-z0-9_.]+' "$log" | sort | uniq -c | sort -rn | head -3 | awk '{printf "%s%s × %s", (NR>1?"; ":""), $3, $1}')"
done
echo "durability pair: Committed $(calc %.0f "${R_rps[full path (Committed)]}") req/s (p50 $(ms "${R_p50[full path (Committed)]}") ms, p99 $(ms "${R_p99[full path (Committed)]}") ms) = $committed_pct % of Buffered's $(calc %.0f "${R_rps[full path (Buffered)]}") req/s (p50 $(ms "${R_p50[full path (Buffered)]}") ms, p99 $(ms "${R_p99[full path (Buffered)]}") ms)"
if [[ $webhook == 1 ]]; then
  read -r w_requests w_events w_first w_last w_bad < <(curl -fsS "http://127.0.0.1:$receiver_port/stats") || die "the webhook receiver is gone"
  w_waiting=$(sql -c "SELECT coalesce(sum(event_count), 0) FROM webhook_outbox")
  echo "webhooks (WEBHOOK=1): $w_events events in $w_requests requests between the first and the last, $(calc %.0f "$w_last - $w_first") s apart, $w_waiting still waiting in the outbox, $w_bad bad signatures"
  (( w_bad == 0 )) || die "$w_bad webhook requests failed the receiver's signature check"
fi
echo
[[ -n "$hook_line" ]] && echo "$hook_line"
echo "routing (issue 23): full path on codes with 5 rules $(calc %.0f "${R_rps[full path, 5 rules per code]}") req/s = $(calc %.1f "100 * ${R_rps[full path, 5 rules per code]} / ${R_rps[full path]}") % of the plain full path's (target ≥ 95 %); ratios $(ratio_of "full path, 5 rules per code") % and $full_ratio %"
echo "full-path ratio: $full_ratio %$([[ $webhook == 1 ]] && echo ' (WEBHOOK=1)')"
echo "realistic-mix ratio: $mix_ratio %"
echo "total time: $(calc %.0f "$(now_s) - $script_started") s"
(( mismatches == 0 )) || die "$mismatches run(s) where the rows written to qr_scans differ from the 302s received, or answers were not 302s (see above)"
