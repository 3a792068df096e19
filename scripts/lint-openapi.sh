#!/usr/bin/env bash
# Lints the gateway's OpenAPI document with @redocly/cli against redocly.yaml (the strict recommended rules).
# The linter is pinned in scripts/openapi-lint/ (package.json + package-lock.json) and installed with `npm ci`
# into .data/redocly/ (git-ignored); it runs offline, telemetry off. The document is the one a real gateway served:
# tests/…/Http/ApiDocsTests.cs saves it to .data/openapi/v1.json, so run those tests (./test.sh does) first.
#
#   bash scripts/lint-openapi.sh             install the linter if needed, then lint .data/openapi/v1.json
#   bash scripts/lint-openapi.sh --install   only install the linter (./test.sh does it while the solution builds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pins="$root/scripts/openapi-lint"
tool="$root/.data/redocly"
document=".data/openapi/v1.json" # relative to the root: .redocly.lint-ignore.yaml names it so
gateway="$root/src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true REDOCLY_SUPPRESS_UPDATE_NOTICE=true

command -v npm >/dev/null || { echo "lint-openapi.sh: npm (Node.js) is required" >&2; exit 1; }
cli="$tool/node_modules/@redocly/cli/bin/cli.js"
lock_hash=$(sha256sum "$pins/package-lock.json" | cut -d' ' -f1)
if [[ -f "$tool/.source" ]] && grep -q "$lock_hash" "$tool/.source" && [[ -f "$cli" ]]; then
  [[ "${1:-}" == "--install" ]] && echo "OpenAPI linter up to date ($tool)"
else
  rm -rf "$tool" && mkdir -p "$tool"
  cp "$pins/package.json" "$pins/package-lock.json" "$tool/"
  log=$(mktemp)
  if ! (cd "$tool" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts) >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "lint-openapi.sh: could not install @redocly/cli (scripts/openapi-lint/package-lock.json)" >&2
    exit 1
  fi
  rm -f "$log"
  echo "$lock_hash" >"$tool/.source"
  echo "OpenAPI linter installed: @redocly/cli $(node "$cli" --version 2>/dev/null | tail -n1)"
fi
[[ "${1:-}" == "--install" ]] && exit 0
[[ $# -eq 0 ]] || { echo "lint-openapi.sh: unknown argument '$1' (only --install)" >&2; exit 2; }

cd "$root"
if [[ ! -s "$document" ]]; then
  echo "lint-openapi.sh: $document is missing: run the ApiDocs tests first" >&2
  echo "  dotnet test tests/InvexQr.IntegrationTests -c Release --no-build --filter 'FullyQualifiedName~Http.ApiDocs'" >&2
  exit 1
fi
if [[ -f "$gateway" && "$gateway" -nt "$document" ]]; then
  echo "lint-openapi.sh: $document is older than the built gateway: run the ApiDocs tests again (command above)" >&2
  exit 1
fi
status=0
output=$(timeout 120 node "$cli" lint "$document" --config redocly.yaml --format=stylish 2>&1) || status=$?
# Node 20 makes the CLI print a deprecation box around its verdict; the box is left out.
grep -v '[║╔╚]' <<<"$output" | grep -v '^[[:space:]]*$' || true
(( status == 0 )) || echo "lint-openapi.sh: the OpenAPI document does not pass the lint (exit $status)" >&2
exit "$status"
