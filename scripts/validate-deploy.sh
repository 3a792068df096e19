#!/usr/bin/env bash
# Validates InvexQR's deployment files offline:
#   1. installs what it needs: kubectl (Debian's kubernetes-client, if no kubectl is on PATH) and the pinned
#      npm packages of scripts/validate-deploy (npm ci);
#   2. renders k8s/overlays/dev and k8s/overlays/prod with `kubectl kustomize`;
#   3. checks the renders, docker-compose.yml and the Dockerfiles (scripts/validate-deploy/validate.mjs);
#   4. runs the self-test: deliberately broken copies must each be rejected.
# Exits non-zero on any failure. KUBECTL=/path/to/kubectl picks another kubectl (e.g. to compare kustomize
# versions). Usage: scripts/validate-deploy.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool="$root/scripts/validate-deploy"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- tools ------------------------------------------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "validate-deploy: installing nodejs + npm (Debian)"
  apt_install nodejs npm
fi
kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  if ! command -v kubectl >/dev/null; then
    echo "validate-deploy: installing kubectl (Debian package kubernetes-client)"
    apt_install kubernetes-client
  fi
  kubectl=kubectl
fi
echo "validate-deploy: $("$kubectl" version --client 2>/dev/null | head -n1)"

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f "$tool/node_modules/.package-lock.json" ] || [ "$tool/package-lock.json" -nt "$tool/node_modules/.package-lock.json" ]; then
  echo "validate-deploy: npm ci (scripts/validate-deploy)"
  (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- render -----------------------------------------------------------------------------------------------
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for overlay in dev prod; do
  # Deprecation warnings (bases, patchesStrategicMerge, patchesJson6902) from newer kustomize are expected;
  # see k8s/README.md.
  if ! "$kubectl" kustomize "$root/k8s/overlays/$overlay" >"$out/$overlay.yaml" 2>"$out/$overlay.err"; then
    cat "$out/$overlay.err" >&2
    echo "validate-deploy: FAILED: kubectl kustomize k8s/overlays/$overlay" >&2
    exit 1
  fi
  grep -v '^# Warning: .* is deprecated' "$out/$overlay.err" >&2 || true
  echo "validate-deploy: rendered k8s/overlays/$overlay ($(grep -c '^kind:' "$out/$overlay.yaml") objects)"
done

# --- check ------------------------------------------------------------------------------------------------
status=0
node "$tool/validate.mjs" --root "$root" --overlay dev="$out/dev.yaml" --overlay prod="$out/prod.yaml" || status=1
node "$tool/validate.mjs" --self-test --root "$root" --overlay dev="$out/dev.yaml" || status=1
if [ "$status" -ne 0 ]; then
  echo "validate-deploy: FAILED (see the FAIL lines above)" >&2
else
  echo "validate-deploy: all checks passed"
fi
exit "$status"
