#!/usr/bin/env bash
# Records real /metrics scrapes of a gateway and a separate silo into deploy/monitoring/fixtures/, the
# ground truth scripts/check-monitoring.sh checks the dashboard and alert rules against. Run it after a
# metric is added or renamed, then review the diff and run scripts/check-monitoring.sh.
#
# Starts `SEPARATE_SILO=1 ./run.sh` (build included) on this checkout's .data/, scrapes both processes at
# once (*-fresh.prom: what a just-started process exports), then creates two codes, scans them (a bot,
# a phone's burst that gets throttled, an unknown code), stops the project-local PostgreSQL for a few
# seconds so scans are spooled and database errors counted, restarts it, waits for the spool to be
# replayed, and scrapes again (gateway.prom, silo.prom). Stops everything it started. Bounded: 15 minutes at most.
# Usage: scripts/capture-metrics-fixtures.sh   (no ./run.sh of this checkout may be running)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/deploy/monitoring/fixtures"
data="$root/.data"
log=$(mktemp)
run_pid=

die() { echo "capture-metrics-fixtures: $*" >&2; exit 1; }
cleanup() {
  if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true      # run.sh traps it and stops the processes and PostgreSQL
    for _ in $(seq 1 60); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$run_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
deadline=$((SECONDS + 900))
in_time() { (( SECONDS < deadline )) || die "gave up after 15 minutes (run.sh output: see above)"; }

if [[ -f "$data/run.env" ]]; then
  old_url=$(sed -n 's/^GATEWAY_URL=//p' "$data/run.env")
  if [[ -n "$old_url" ]] && curl -fsS -m 2 "$old_url/health/live" >/dev/null 2>&1; then
    die "a ./run.sh of this checkout is running ($old_url): stop it first"
  fi
fi
rm -f "$data/run.env"

echo "==> SEPARATE_SILO=1 ./run.sh (log: $log)"
SEPARATE_SILO=1 ./run.sh >"$log" 2>&1 &
run_pid=$!
until [[ -f "$data/run.env" ]]; do
  kill -0 "$run_pid" 2>/dev/null || { cat "$log" >&2; die "run.sh exited before the stack was ready"; }
  in_time; sleep 1
done
# shellcheck disable=SC1091
source "$data/run.env"
silo_url=$(sed -n 's#^  Orleans dashboard (operators): \(http://[^/]*\)/orleans/.*#\1#p' "$log")
[[ -n "$silo_url" ]] || { cat "$log" >&2; die "could not find the silo's HTTP address in run.sh's output"; }
curl -fsS -m 10 "$silo_url/health/ready" >/dev/null || die "the silo at $silo_url is not ready"

scrape() { # url file
  curl -fsS -m 10 "$1/metrics" -o "$2.tmp" || die "scraping $1/metrics failed"
  grep -q '^target_info{' "$2.tmp" || die "$1/metrics is not an OpenTelemetry Prometheus scrape"
  mv "$2.tmp" "$2"
}
mkdir -p "$out"
scrape "$GATEWAY_URL" "$out/gateway-fresh.prom"
scrape "$silo_url" "$out/silo-fresh.prom"
echo "==> fresh scrapes: $(grep -vc '^#' "$out/gateway-fresh.prom") gateway and $(grep -vc '^#' "$out/silo-fresh.prom") silo samples"

stamp=$(date +%s)
create() { # code
  local status
  status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X POST "$GATEWAY_URL/api/codes" \
    -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' \
    -d "{\"targetUrl\":\"https://example.org/$1\",\"code\":\"$1\"}")
  [[ "$status" == 201 ]] || die "creating code $1 answered $status"
}
busy="fixture-$stamp" calm="fixture-$stamp-b"
create "$busy"
create "$calm"

phone='Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'
desktop='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
declare -A seen=()
scan() { # user-agent path
  local s
  s=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -A "$1" "$GATEWAY_URL$2") || s=000
  seen[$s]=$(( ${seen[$s]:-0} + 1 ))
}
scan 'Googlebot/2.1 (+http://www.google.com/bot.html)' "/r/$busy"
for _ in $(seq 1 40); do scan "$phone" "/r/$busy"; done         # the burst beyond Throttle__Burst answers 429
scan "$desktop" "/r/$calm"
scan "$desktop" "/r/no-such-code-$stamp"
sleep 3
echo "==> answers so far: $(for s in "${!seen[@]}"; do printf '%s x%s  ' "$s" "${seen[$s]}"; done)"
[[ -n "${seen[302]:-}" && -n "${seen[429]:-}" && -n "${seen[404]:-}" ]] || die "expected 302, 429 and 404 answers"

echo "==> stopping PostgreSQL for a few seconds (scans go to the silo's spool)"
pg_port=$(cat "$data/pg-port")
bash scripts/pg.sh stop "$data/pg"
for _ in $(seq 1 8); do scan "$desktop" "/r/$calm"; sleep 0.3; done
sleep 5
bash scripts/pg.sh start "$data/pg" "$pg_port"
echo "==> waiting for the spool to be replayed"
replayed() {
  local m
  m=$(curl -fsS -m 5 "$silo_url/metrics") || return 1
  grep -q '^invexqr_scan_spool_replayed_total{.*} [1-9]' <<<"$m" && grep -q '^invexqr_scan_spool_scans{.*} 0$' <<<"$m"
}
until replayed; do in_time; sleep 2; done
scan "$desktop" "/r/$calm"
sleep 4                                                          # a rollup flush and a sink batch after it

scrape "$GATEWAY_URL" "$out/gateway.prom"
scrape "$silo_url" "$out/silo.prom"
echo "==> wrote $out/{gateway,silo}{,-fresh}.prom"
for f in gateway silo; do
  echo "    $f.prom: $(grep -c '^# TYPE' "$out/$f.prom") metrics, $(grep -vc '^#' "$out/$f.prom") samples"
done
