#!/usr/bin/env bash
# The scan path's cost with live viewers (issue 24): one co-hosted gateway on loopback, one hot code, wrk scanning it
# with no viewer, then with VIEWERS (50) live streams open on that code (curl -N), then with none again; req/s and
# p99 of each run, and the events the viewers received. Bounded: a watchdog ends it after TIME_LIMIT (300) s; every
# process it started, the throwaway PostgreSQL and its directory are removed on any exit.
#   bench/live-view.sh                 DURATION=10 VIEWERS=50 CONNECTIONS=32 bench/live-view.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${DURATION:-10}; viewers=${VIEWERS:-50}; connections=${CONNECTIONS:-32}; threads=${THREADS:-2}; limit=${TIME_LIMIT:-300}
for n in "$duration" "$viewers" "$connections" "$threads" "$limit"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "DURATION, VIEWERS, CONNECTIONS, THREADS and TIME_LIMIT must be whole numbers >= 1" >&2; exit 2; }
done
die() { echo "live-view: $*" >&2; exit 1; }
sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
for tool in wrk curl; do
  if ! command -v $tool >/dev/null; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq $tool >/dev/null || die "apt-get install $tool failed"
  fi
done
gateway_dll="$root/src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll"
[[ -f "$gateway_dll" ]] || timeout 900 dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly >/dev/null || die "build failed"
[[ -f .data/geo/GeoLite2-City.mmdb ]] || bash scripts/fetch-data.sh >/dev/null || die "scripts/fetch-data.sh failed"

work=$(mktemp -d); chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
( sleep "$limit"; echo "live-view: time limit ($limit s) reached" >&2; kill -TERM $$ ) & watchdog=$!
pids+=("$watchdog")

bash scripts/pg.sh install >/dev/null
head -c 18 /dev/urandom | base64 | tr -d "/+=" > "$work/pg-password"
bash scripts/pg.sh init "$work/pg" "$work/pg-password" >/dev/null || die "initdb failed"
pg_port=$(bash scripts/pg.sh free-port 31100)
bash scripts/pg.sh start "$work/pg" "$pg_port" >/dev/null || die "PostgreSQL did not start"
export PGPASSWORD; PGPASSWORD=$(cat "$work/pg-password")
psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE bench" >/dev/null
http_port=$(bash scripts/pg.sh free-port 31200)
gateway="http://127.0.0.1:$http_port"
api_key="bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
bash scripts/cluster-certs.sh "$work/tls" >/dev/null || die "scripts/cluster-certs.sh failed"
env "Orleans__Tls__CaPath=$work/tls/ca.crt" "Orleans__Tls__CertificatePath=$work/tls/silo.crt" "Orleans__Tls__KeyPath=$work/tls/silo.key" \
  "ConnectionStrings__Postgres=Host=127.0.0.1;Port=$pg_port;Database=bench;Username=invexqr;Password=$PGPASSWORD" \
  "Orleans__ClusterId=live-$$" "Orleans__ServiceId=bench" "Orleans__SiloPort=$(bash scripts/pg.sh free-port 31300)" \
  "Orleans__GatewayPort=$(bash scripts/pg.sh free-port 31400)" "Auth__ApiKey=$api_key" "Gateway__PublicBaseUrl=$gateway" \
  "Gateway__CoHostSilo=true" "Throttle__Burst=1000000000" "Throttle__PerMinute=1000000000" \
  "Live__MaxStreamsPerOwner=$((viewers + 1))" "ShutdownTimeoutSeconds=10" ASPNETCORE_URLS="$gateway" \
  dotnet "$gateway_dll" > "$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 180); do curl -sf "$gateway/health/ready" >/dev/null 2>&1 && break; sleep 1; done
curl -sf "$gateway/health/ready" >/dev/null || { tail -20 "$work/gateway.log"; die "the gateway did not become ready"; }
curl -sf -X POST "$gateway/api/codes" -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
  -d '{"targetUrl":"https://example.org/hot","code":"hot"}' >/dev/null || die "creating the code failed"

run() { # NAME: one wrk run on /r/hot after a 3 s warm-up; prints req/s and p99
  timeout 60 wrk -t"$threads" -c"$connections" -d3s "$gateway/r/hot" >/dev/null
  timeout $((duration + 30)) wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$gateway/r/hot" > "$work/wrk-$1.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk-$1.txt")
  printf '%-22s %10s req/s   p99 %s\n' "$1" "$rps" "$p99"
  echo "$rps $p99" >> "$work/summary"
}

echo "wrk -t$threads -c$connections, ${duration} s runs on /r/hot (co-hosted gateway, loopback, $(nproc) cores)"
run "no viewers"
viewer_pids=()
for i in $(seq 1 "$viewers"); do
  curl -sN -H "Authorization: Bearer $api_key" "$gateway/api/codes/hot/live" > "$work/viewer-$i.txt" 2>/dev/null &
  viewer_pids+=($!); pids+=($!)
done
# Every stream open and watching: each got its hello, and a scan reaches them.
for _ in $(seq 1 100); do [[ $(grep -l '^event: hello' "$work"/viewer-*.txt 2>/dev/null | wc -l) -ge $viewers ]] && break; sleep 0.1; done
[[ $(grep -l '^event: hello' "$work"/viewer-*.txt | wc -l) -ge $viewers ]] || die "not every viewer got its stream"
sleep 2
run "$viewers viewers"
for pid in "${viewer_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
events=$(cat "$work"/viewer-*.txt | grep -c '^event: scans' || true)
mean_events=$((events / viewers))
sleep 2
run "no viewers again"
echo "viewers received $events scans events in all ($mean_events each, over a ${duration}+3 s run: at most 4 a second by design)"
awk -v v="$viewers" 'NR==1{a=$1} NR==2{b=$1} NR==3{c=$1} END { printf "with %d viewers: %.1f %% of the mean req/s of the runs without\n", v, 100*b/((a+c)/2) }' "$work/summary"
