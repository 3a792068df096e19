#!/usr/bin/env bash
# Checks the operators' monitoring files offline (scripts/monitoring/check.py):
#   - deploy/monitoring/alerts.yaml: promtool check rules, the unit tests of alerts.test.yaml, severity /
#     annotations / runbook sections of docs/operations.md, and that each alert's tests fail if it never fires;
#   - deploy/monitoring/grafana-dashboard.json: an importable shape with a datasource variable and built-in
#     panels only, and every query evaluated by promtool over the real scrapes in deploy/monitoring/fixtures;
#   - every metric and label the dashboard and the rules name is exported by the processes (the fixtures,
#     re-recorded by scripts/capture-metrics-fixtures.sh), so a renamed metric fails here;
#   - k8s/monitoring is in step with deploy/monitoring; the example Prometheus configs pass promtool.
# Installs what it needs when missing: promtool (Debian package prometheus, whose daemon is kept from
# starting), python3 and PyYAML. Exits non-zero on any failure.
# Usage: scripts/check-monitoring.sh [--write]   (--write regenerates k8s/monitoring from deploy/monitoring)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

for arg in "$@"; do
  [[ "$arg" == --write ]] || { echo "check-monitoring: unknown argument '$arg' (usage: scripts/check-monitoring.sh [--write])" >&2; exit 2; }
done

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  command -v apt-get >/dev/null || { echo "check-monitoring: $* missing and no apt-get: install them yourself" >&2; exit 1; }
  [[ -n "$apt_updated" ]] || { as_root timeout 300 apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v promtool >/dev/null; then
  echo "check-monitoring: installing promtool (Debian package prometheus)"
  # The package would start a Prometheus listening on all interfaces: forbid service starts during the
  # install (policy-rc.d, honoured by invoke-rc.d and deb-systemd-invoke) unless a policy is already set.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    own_policy=1
  fi
  status=0
  apt_install prometheus || status=$?
  [[ -z "$own_policy" ]] || as_root rm -f "$policy"
  [[ $status -eq 0 ]] || { echo "check-monitoring: installing prometheus failed (exit $status)" >&2; exit 1; }
  if command -v systemctl >/dev/null && systemctl is-enabled prometheus >/dev/null 2>&1; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null || { echo "check-monitoring: the prometheus package brought no promtool" >&2; exit 1; }
fi
if ! command -v python3 >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
  echo "check-monitoring: installing python3 and PyYAML (Debian packages python3, python3-yaml)"
  apt_install python3 python3-yaml
fi

echo "check-monitoring: $(promtool --version 2>&1 | head -n1)"
if ! timeout 300 python3 "$root/scripts/monitoring/check.py" "$@"; then
  echo "check-monitoring: FAILED (see the FAIL lines above)" >&2
  exit 1
fi
echo "check-monitoring: all checks passed"
