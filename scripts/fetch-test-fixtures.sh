#!/usr/bin/env bash
# Installs what only the tests read into .data/uap-core-tests (git-ignored): uap-core's conformance fixtures
# (tests/test_ua.yaml, tests/test_os.yaml, tests/test_device.yaml, test_resources/) with the regexes.yaml of the
# same release. The npm package uap-core ships no fixtures; Debian's uap-core package does, so it is fetched with
# apt-get download (nothing is installed) and unpacked here. Run by ./test.sh, never by ./run.sh.
# Idempotent: an installed copy is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tests_dir="$root/.data/uap-core-tests"
# Debian's uap-core package that carries the fixtures (any release works: the tests pair the fixtures with the
# regexes.yaml of the same package); this one is used when the archive has it, else the archive's current one.
uap_tests_deb_version="1:0.16.0-1"

if [[ -f "$tests_dir/tests/test_ua.yaml" && -f "$tests_dir/regexes.yaml" && -f "$tests_dir/.deb-version" ]]; then
  echo "uap-core fixtures up to date (Debian uap-core $(cat "$tests_dir/.deb-version"))"
else
  for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "fetch-test-fixtures.sh: $tool is required to fetch uap-core's test fixtures" >&2; exit 1; }
  done
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if ! apt-cache show uap-core >/dev/null 2>&1; then
    $sudo apt-get update -qq
  fi
  version=$uap_tests_deb_version
  if ! apt-cache show "uap-core=$version" >/dev/null 2>&1; then
    version=$(apt-cache policy uap-core | sed -n 's/^ *Candidate: //p')
    [[ -n "$version" && "$version" != "(none)" ]] || { echo "fetch-test-fixtures.sh: no uap-core package in the Debian archive" >&2; exit 1; }
    echo "Debian uap-core $uap_tests_deb_version is gone from the archive; using $version"
  fi
  work=$(mktemp -d)
  if ! (cd "$work" && apt-get download -qq "uap-core=$version") 2>"$work/apt.log"; then
    cat "$work/apt.log" >&2; rm -rf "$work"
    echo "fetch-test-fixtures.sh: apt-get download uap-core=$version failed" >&2; exit 1
  fi
  grep -v "Download is performed unsandboxed" "$work/apt.log" >&2 || true
  dpkg-deb -x "$work"/uap-core_*.deb "$work/root"
  [[ -f "$work/root/usr/share/uap-core/tests/test_ua.yaml" ]] || { rm -rf "$work"; echo "fetch-test-fixtures.sh: the uap-core package has no tests/test_ua.yaml" >&2; exit 1; }
  rm -rf "$tests_dir"
  mkdir -p "$(dirname "$tests_dir")"
  mv "$work/root/usr/share/uap-core" "$tests_dir"
  echo "$version" >"$tests_dir/.deb-version"
  rm -rf "$work"
  echo "uap-core fixtures installed (Debian uap-core $version)"
fi

echo "uap-core fixtures: $tests_dir/tests/ (rules of the same release in $tests_dir/regexes.yaml)"
