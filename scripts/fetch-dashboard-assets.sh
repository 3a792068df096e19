#!/usr/bin/env bash
# Installs the dashboard's pinned front-end libraries (src/Gateway/Dashboard/package.json + package-lock.json,
# from npm, `npm ci`) and copies only what the browser needs into src/Gateway/wwwroot/app/vendor/ (git-ignored):
#   echarts.min.js, world.json (country shapes named by ISO alpha-2, built from world-atlas + i18n-iso-countries),
#   and the licences. Idempotent: does nothing when the vendor directory was built from the current lock file and build script.
# No CDN at run time: the gateway serves these files itself. The gateway image does the same in its Dockerfile.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pins="$root/src/Gateway/Dashboard"
vendor="$root/src/Gateway/wwwroot/app/vendor"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

command -v npm >/dev/null || { echo "fetch-dashboard-assets.sh: npm (Node.js) is required" >&2; exit 1; }
# The stamp covers the lock file and the build script: a change to either rebuilds the vendor directory.
lock_hash=$(cat "$pins/package-lock.json" "$pins/build-vendor.mjs" | sha256sum | cut -d' ' -f1)
if [[ -f "$vendor/.source" ]] && grep -q "$lock_hash" "$vendor/.source" && [[ -s "$vendor/echarts.min.js" && -s "$vendor/world.json" ]]; then
  echo "dashboard assets up to date ($vendor)"
  exit 0
fi

log=$(mktemp)
if ! (cd "$pins" && npm ci --no-audit --no-fund --ignore-scripts) >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
node "$pins/build-vendor.mjs" "$vendor"
echo "$lock_hash" >"$vendor/.source"
